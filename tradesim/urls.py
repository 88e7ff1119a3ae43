from django.contrib import admin
from django.urls import include, path, re_path

from tradesim import views

admin.site.site_header = "TradeSim classroom console"
admin.site.site_title = "TradeSim admin"
admin.site.index_title = "Run your class"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("prices/", include("prices.urls")),
    path("ledger/", include("ledger.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("trading/", include("trading.urls")),
    # The student's class as a contest (/classes/rules/); keep it after any other
    # "classes/" include, such as joining a class.
    path("classes/", include("portfolio.contest_urls")),
    # Classes moved to their own app; old bookmarks of their admin pages still work.
    re_path(
        r"^admin/accounts/classroom/(?P<rest>.*)$",
        views.moved_class_admin,
        name="moved_class_admin",
    ),
    path("admin/", admin.site.urls),
]
