"""The Instructors group's class permissions now name the classrooms app (the same
permission rows: their content type moved in 0004)."""

import importlib

from django.db import migrations

PREVIOUS = importlib.import_module("accounts.migrations.0003_instructors_unlock_logins").PERMISSIONS
PERMISSIONS = [
    ("classrooms", codename) if codename.endswith("_classroom") else (app, codename)
    for app, codename in PREVIOUS
]


def apply(permissions):
    def run(apps, schema_editor):
        from accounts.roles import apply_instructor_role

        apply_instructor_role(
            group_model=apps.get_model("auth", "Group"),
            permission_model=apps.get_model("auth", "Permission"),
            permissions=permissions,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_classroom_moves_to_classrooms")]

    operations = [migrations.RunPython(apply(PERMISSIONS), migrations.RunPython.noop)]
