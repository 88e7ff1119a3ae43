from django.urls import path, re_path

from api import views
from api.main import api

urlpatterns = [
    # The pages about the API, in HTML: before the API's own URLs, which answer in JSON.
    path("v1/docs", views.reference, name="api_reference"),
    path("v1/errors", views.errors, name="api_errors"),
    path("v1/guide", views.guide, name="api_guide"),
    path("v1/", api.urls),
    # Anything else under /api/: a problem document, not the HTML 404 page.
    re_path(r"^.*$", views.not_found, name="not_found"),
]
