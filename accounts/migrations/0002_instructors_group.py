"""The Instructors group with exactly the permissions in accounts.roles.

Permissions are normally created by post_migrate, after every migration has run, so on a
fresh database they do not exist yet at this point: they are created here first, from the
historical models, the way post_migrate would. The list is frozen as of this migration; a
later change to accounts.roles.INSTRUCTOR_PERMISSIONS comes with a migration of its own."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "change_user"),
    ("accounts", "view_classroom"),
    ("accounts", "add_classroom"),
    ("accounts", "change_classroom"),
    ("accounts", "delete_classroom"),
    ("ledger", "view_balance"),
    ("ledger", "view_transaction"),
    ("ledger", "grant_cash"),
    ("portfolio", "view_holding"),
    ("trading", "view_trade"),
    ("trading", "reset_student"),
    ("prices", "view_price"),
    ("prices", "change_price"),
    ("prices", "view_pricehistory"),
    ("prices", "view_marketevent"),
    ("prices", "add_marketevent"),
    ("tradesim", "view_auditentry"),
]


def create_instructors_group(apps, schema_editor):
    from accounts.roles import apply_instructor_role

    for label in sorted({app_label for app_label, _ in PERMISSIONS}):
        app_config = apps.get_app_config(label)
        # create_permissions skips an app without a models module, and the app configs of
        # the migration state never have one.
        app_config.models_module = True
        create_permissions(
            app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias
        )
        app_config.models_module = None
    apply_instructor_role(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        permissions=PERMISSIONS,
    )


def remove_instructors_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Instructors").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0002_grant_cash_permission"),
        ("portfolio", "0003_snapshots"),
        ("prices", "0003_market_state_row"),
        ("trading", "0002_reset_student_permission"),
        ("tradesim", "0001_audit_log"),
    ]

    operations = [
        migrations.RunPython(create_instructors_group, remove_instructors_group),
    ]
