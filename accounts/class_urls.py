"""The class pages that accounts owns, in the `classes` namespace (tradesim/urls.py)."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("join/", views.join, name="join"),
]
