from django.urls import path

from ledger import views

app_name = "ledger"
urlpatterns = [
    path("", views.journal, name="journal"),
    path("deposit/", views.deposit, name="deposit"),
    path("withdraw/", views.withdraw, name="withdraw"),
]
