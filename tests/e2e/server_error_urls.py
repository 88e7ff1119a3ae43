"""The site's URLconf plus one view that fails, so a browser test can see the 500 page as
Django's handler serves it."""

from django.urls import path

from tradesim.urls import urlpatterns as site_urlpatterns


def raise_an_error(request):
    raise RuntimeError("a failure on purpose, to show the server error page")


urlpatterns = [*site_urlpatterns, path("raise-an-error/", raise_an_error)]
