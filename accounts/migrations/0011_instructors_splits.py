"""Instructors schedule stock splits, and cancel them before they take effect."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

PREVIOUS = importlib.import_module("accounts.migrations.0010_instructors_headlines").PERMISSIONS
# In the list's order: after the market events and the headlines.
_AT = PREVIOUS.index(("prices", "view_headline")) + 1
PERMISSIONS = [*PREVIOUS[:_AT], ("prices", "view_split"), ("prices", "add_split"), *PREVIOUS[_AT:]]


def apply(permissions):
    def run(apps, schema_editor):
        from accounts.roles import apply_instructor_role

        app_config = apps.get_app_config("prices")
        app_config.models_module = True  # see 0002: the migration state's apps have none
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
        apply_instructor_role(
            group_model=apps.get_model("auth", "Group"),
            permission_model=apps.get_model("auth", "Permission"),
            permissions=permissions,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_instructors_headlines"),
        ("prices", "0015_splits"),
    ]

    operations = [migrations.RunPython(apply(PERMISSIONS), apply(PREVIOUS))]
