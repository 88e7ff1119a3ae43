from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolios"

    def ready(self):
        from portfolio import valuation_view

        # The valuations view is dropped before migrations run and made again after them.
        pre_migrate.connect(valuation_view.drop, sender=self, dispatch_uid="valuation-view-drop")
        post_migrate.connect(valuation_view.create, sender=self, dispatch_uid="valuation-view")
