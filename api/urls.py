from django.urls import path, re_path

from api import views
from api.main import api

urlpatterns = [
    path("v1/", api.urls),
    # Anything else under /api/: a problem document, not the HTML 404 page.
    re_path(r"^.*$", views.not_found, name="not_found"),
]
