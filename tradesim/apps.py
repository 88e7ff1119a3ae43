from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TradesimConfig(AppConfig):
    name = "tradesim"
    verbose_name = "Classroom audit"

    def ready(self):
        from tradesim import lookups  # noqa: F401  (registers them)


class TradeSimAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the project's admin site (tradesim.admin_site)."""

    default = False  # "tradesim" in INSTALLED_APPS still means TradesimConfig
    default_site = "tradesim.admin_site.TradeSimAdminSite"
