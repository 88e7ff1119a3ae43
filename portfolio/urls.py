from django.urls import path

from portfolio import views

app_name = "portfolio"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
]
