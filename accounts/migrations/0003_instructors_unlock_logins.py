"""Instructors may unlock a student locked out after failed log-ins (django-axes' access
attempts: view them, delete one to unlock)."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

PREVIOUS = importlib.import_module("accounts.migrations.0002_instructors_group").PERMISSIONS
PERMISSIONS = [*PREVIOUS, ("axes", "view_accessattempt"), ("axes", "delete_accessattempt")]


def grant_unlock(apps, schema_editor):
    from accounts.roles import apply_instructor_role

    app_config = apps.get_app_config("axes")
    app_config.models_module = True  # see 0002: the migration state's apps have none
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    apply_instructor_role(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        permissions=PERMISSIONS,
    )


def revoke_unlock(apps, schema_editor):
    from accounts.roles import apply_instructor_role

    apply_instructor_role(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        permissions=PREVIOUS,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_instructors_group"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant_unlock, revoke_unlock)]
