"""Instructors see their students' API tokens and may revoke one (audited)."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

PREVIOUS = importlib.import_module("accounts.migrations.0007_instructors_cancel_orders").PERMISSIONS
# In the list's order: after the orders, before the prices.
_AT = PREVIOUS.index(("trading", "cancel_order")) + 1
PERMISSIONS = [
    *PREVIOUS[:_AT],
    ("api", "view_apitoken"),
    ("api", "revoke_apitoken"),
    *PREVIOUS[_AT:],
]


def apply(permissions):
    def run(apps, schema_editor):
        from accounts.roles import apply_instructor_role

        app_config = apps.get_app_config("api")
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
        ("accounts", "0007_instructors_cancel_orders"),
        ("api", "0002_token_form_and_revoke"),
    ]

    operations = [migrations.RunPython(apply(PERMISSIONS), apply(PREVIOUS))]
