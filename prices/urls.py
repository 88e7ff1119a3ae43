from django.urls import path

from prices import views

app_name = "prices"
urlpatterns = [
    path("", views.market, name="market"),
    path("<str:symbol>/", views.quote, name="quote"),
    path("<str:symbol>/live/", views.quote_live, name="quote_live"),
]
