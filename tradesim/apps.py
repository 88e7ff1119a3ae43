from django.apps import AppConfig


class TradesimConfig(AppConfig):
    name = "tradesim"
    verbose_name = "Classroom audit"
