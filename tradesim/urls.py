from django.contrib import admin
from django.urls import include, path

from tradesim import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("prices/", include("prices.urls")),
    path("ledger/", include("ledger.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("trading/", include("trading.urls")),
    path("admin/", admin.site.urls),
]
