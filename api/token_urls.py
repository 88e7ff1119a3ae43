"""/accounts/api-tokens/: a person's API tokens (included from tradesim/urls.py)."""

from django.urls import path

from api import token_views

app_name = "api_tokens"

urlpatterns = [
    path("", token_views.tokens, name="list"),
    path("<int:token_id>/revoke/", token_views.revoke, name="revoke"),
]
