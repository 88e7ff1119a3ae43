"""Instructors issue and revoke their students' log-in cards (and see them)."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

PREVIOUS = importlib.import_module("accounts.migrations.0011_instructors_splits").PERMISSIONS
# In the list's order: beside the students' API tokens.
_AT = PREVIOUS.index(("api", "revoke_apitoken")) + 1
PERMISSIONS = [
    *PREVIOUS[:_AT],
    ("accounts", "view_logincard"),
    ("accounts", "issue_logincard"),
    *PREVIOUS[_AT:],
]


def apply(permissions):
    def run(apps, schema_editor):
        from accounts.roles import apply_instructor_role

        app_config = apps.get_app_config("accounts")
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
    dependencies = [("accounts", "0012_login_cards")]

    operations = [migrations.RunPython(apply(PERMISSIONS), apply(PREVIOUS))]
