from django.contrib import admin
from django.urls import include, path, re_path

from tradesim import views

urlpatterns = [
    path("", views.home, name="home"),
    path("glossary/", views.glossary, name="glossary"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    # An account's API tokens: the api app's page (accounts sits below the api).
    path("accounts/api-tokens/", include("api.token_urls")),
    path("prices/", include("prices.urls")),
    path("ledger/", include("ledger.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("trading/", include("trading.urls")),
    path("api/", include("api.urls")),
    # /classes/: one namespace, "classes", over the pages of the apps that own them (an app
    # imports no app above it, so no single app's urls.py could list them all).
    path(
        "classes/",
        include(
            (
                [
                    path("", include("accounts.class_urls")),  # classes:join
                    path("", include("portfolio.contest_urls")),  # classes:rules
                ],
                "classes",
            )
        ),
    ),
    # Classes moved to their own app; old bookmarks of their admin pages still work.
    re_path(
        r"^admin/accounts/classroom/(?P<rest>.*)$",
        views.moved_class_admin,
        name="moved_class_admin",
    ),
    path("admin/", admin.site.urls),
]
