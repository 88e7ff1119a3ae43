from django.urls import path

from portfolio import views

app_name = "portfolio"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("live/", views.live, name="live"),
    path("holdings.csv", views.holdings_csv, name="holdings_csv"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
]
