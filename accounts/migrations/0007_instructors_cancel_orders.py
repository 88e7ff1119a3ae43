"""Instructors see their students' orders and may cancel an open one (audited)."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

PREVIOUS = importlib.import_module(
    "accounts.migrations.0005_instructors_classroom_permissions"
).PERMISSIONS
# In the list's order: after the reset, before the prices.
_AT = PREVIOUS.index(("trading", "reset_student")) + 1
PERMISSIONS = [
    *PREVIOUS[:_AT],
    ("trading", "view_order"),
    ("trading", "cancel_order"),
    *PREVIOUS[_AT:],
]


def apply(permissions):
    def run(apps, schema_editor):
        from accounts.roles import apply_instructor_role

        app_config = apps.get_app_config("trading")
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
        ("accounts", "0006_email_constraint_message"),
        ("trading", "0004_orders"),
    ]

    operations = [migrations.RunPython(apply(PERMISSIONS), apply(PREVIOUS))]
