"""The Instructors group: created by a migration with exactly the permissions in
accounts.roles, and what it lets an instructor do."""

import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.roles import (
    INSTRUCTOR_PERMISSIONS,
    INSTRUCTORS,
    apply_instructor_role,
    ensure_instructor_group,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
MIGRATION = ("accounts", "0003_instructors_unlock_logins")
first = importlib.import_module("accounts.migrations.0002_instructors_group")
migration = importlib.import_module("accounts.migrations.0003_instructors_unlock_logins")
latest = importlib.import_module("accounts.migrations.0013_instructors_login_cards")


def granted(group) -> set[tuple[str, str]]:
    return set(group.permissions.values_list("content_type__app_label", "codename"))


def test_the_migration_freezes_the_current_list():
    # A change to INSTRUCTOR_PERMISSIONS needs a new data migration: this fails until then.
    assert latest.PERMISSIONS == INSTRUCTOR_PERMISSIONS


def test_the_migration_creates_the_group_with_exactly_the_listed_permissions():
    Group.objects.filter(name=INSTRUCTORS).delete()
    Permission.objects.filter(
        codename__in=["grant_cash", "reset_student", "view_accessattempt", "delete_accessattempt"]
    ).delete()
    # The models as they were at those migrations, as on a fresh database.
    state = MigrationExecutor(connection).loader.project_state(MIGRATION)
    editor = SimpleNamespace(connection=connection)  # the data migrations only read .connection
    first.create_instructors_group(state.apps, editor)
    assert granted(Group.objects.get(name=INSTRUCTORS)) == set(first.PERMISSIONS)
    migration.grant_unlock(state.apps, editor)

    group = Group.objects.get(name=INSTRUCTORS)
    assert group.permissions.count() == len(migration.PERMISSIONS)
    assert granted(group) == set(migration.PERMISSIONS)

    migration.revoke_unlock(state.apps, editor)
    assert granted(group) == set(first.PERMISSIONS)
    first.remove_instructors_group(state.apps, editor)
    assert not Group.objects.filter(name=INSTRUCTORS).exists()


def test_every_listed_permission_exists():
    group = ensure_instructor_group()

    assert (
        group.permissions.count() == len(INSTRUCTOR_PERMISSIONS) == len(set(INSTRUCTOR_PERMISSIONS))
    )
    assert granted(group) == set(INSTRUCTOR_PERMISSIONS)


def test_ensure_puts_the_group_back_to_exactly_the_list():
    group = ensure_instructor_group()
    group.permissions.add(Permission.objects.get(codename="delete_transaction"))
    group.permissions.remove(Permission.objects.get(codename="grant_cash"))

    ensure_instructor_group()

    assert granted(group) == set(INSTRUCTOR_PERMISSIONS)


def test_a_permission_that_does_not_exist_is_an_error_not_a_silent_gap():
    with pytest.raises(ImproperlyConfigured, match="portfolio.reset_student"):
        apply_instructor_role(
            group_model=Group,
            permission_model=Permission,
            permissions=[*INSTRUCTOR_PERMISSIONS, ("portfolio", "reset_student")],
        )


def test_what_an_instructor_may_and_may_not_do(teacher):
    teacher = User.objects.get(pk=teacher.pk)  # a fresh permission cache
    for app_label, codename in INSTRUCTOR_PERMISSIONS:
        assert teacher.has_perm(f"{app_label}.{codename}")
    for perm in [
        "ledger.change_transaction",
        "ledger.delete_transaction",
        "ledger.add_transaction",
        "ledger.change_balance",
        "trading.change_trade",
        "trading.delete_trade",
        "trading.change_order",
        "trading.delete_order",
        "trading.add_order",
        "portfolio.change_holding",
        "tradesim.delete_auditentry",
        "accounts.add_user",
        "accounts.delete_user",
        "auth.change_group",
        "prices.add_price",
        "prices.delete_price",
        "api.add_apitoken",
        "api.change_apitoken",
        "api.delete_apitoken",
    ]:
        assert not teacher.has_perm(perm), perm


def test_create_instructor_asks_for_the_password_twice(monkeypatch):
    answers = iter(["Lesson-Plan-42", "Lesson-Plan-42"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(
        "accounts.management.commands.create_instructor.Command.stdin_is_tty",
        staticmethod(lambda: True),
    )
    out = StringIO()

    call_command("create_instructor", "msmith", email="msmith@school.example", stdout=out)

    user = User.objects.get(username="msmith")
    assert user.is_staff and not user.is_superuser and user.check_password("Lesson-Plan-42")
    assert user.has_perm("ledger.grant_cash") and user.has_perm("trading.reset_student")


def test_create_instructor_refuses_passwords_that_differ(monkeypatch):
    answers = iter(["Lesson-Plan-42", "Lesson-Plan-43"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(
        "accounts.management.commands.create_instructor.Command.stdin_is_tty",
        staticmethod(lambda: True),
    )

    with pytest.raises(CommandError, match="didn't match"):
        call_command("create_instructor", "msmith", email="msmith@school.example")
    assert not User.objects.filter(username="msmith").exists()


def test_create_instructor_without_a_terminal_needs_the_flag(monkeypatch):
    monkeypatch.setattr(
        "accounts.management.commands.create_instructor.Command.stdin_is_tty",
        staticmethod(lambda: False),
    )
    with pytest.raises(CommandError, match="--password"):
        call_command("create_instructor", "msmith", email="msmith@school.example")


def test_an_instructor_sees_the_console_but_not_the_groups(teacher_client):
    page = teacher_client.get("/admin/").content.decode()
    for name in ["Users", "Classes", "Balances", "Transactions", "Trades", "Holdings", "Audit log"]:
        assert name in page, name
    assert "/admin/auth/group/" not in page


def test_the_cancel_orders_migration_grants_and_takes_back_the_order_permissions():
    orders = importlib.import_module("accounts.migrations.0007_instructors_cancel_orders")
    state = MigrationExecutor(connection).loader.project_state(
        ("accounts", "0007_instructors_cancel_orders")
    )
    editor = SimpleNamespace(connection=connection)
    Permission.objects.filter(codename__in=["view_order", "cancel_order"]).delete()

    orders.apply(orders.PERMISSIONS)(state.apps, editor)  # creates the permissions first
    group = Group.objects.get(name=INSTRUCTORS)
    assert {("trading", "view_order"), ("trading", "cancel_order")} <= granted(group)
    assert granted(group) == set(orders.PERMISSIONS)

    orders.apply(orders.PREVIOUS)(state.apps, editor)
    assert granted(group) == set(orders.PREVIOUS)


def test_the_api_tokens_migration_grants_and_takes_back_the_token_permissions():
    tokens = importlib.import_module("accounts.migrations.0008_instructors_api_tokens")
    state = MigrationExecutor(connection).loader.project_state(
        ("accounts", "0008_instructors_api_tokens")
    )
    editor = SimpleNamespace(connection=connection)
    Permission.objects.filter(codename__in=["view_apitoken", "revoke_apitoken"]).delete()

    tokens.apply(tokens.PERMISSIONS)(state.apps, editor)  # creates the permissions first
    group = Group.objects.get(name=INSTRUCTORS)
    assert {("api", "view_apitoken"), ("api", "revoke_apitoken")} <= granted(group)
    assert granted(group) == set(tokens.PERMISSIONS)

    tokens.apply(tokens.PREVIOUS)(state.apps, editor)
    assert granted(group) == set(tokens.PREVIOUS)


def test_the_margin_calls_migration_grants_and_takes_back_the_margin_call_view():
    calls = importlib.import_module("accounts.migrations.0009_instructors_margin_calls")
    state = MigrationExecutor(connection).loader.project_state(
        ("accounts", "0009_instructors_margin_calls")
    )
    editor = SimpleNamespace(connection=connection)
    Permission.objects.filter(codename="view_margincall").delete()

    calls.apply(calls.PERMISSIONS)(state.apps, editor)  # creates the permission first
    group = Group.objects.get(name=INSTRUCTORS)
    assert ("trading", "view_margincall") in granted(group)
    assert granted(group) == set(calls.PERMISSIONS)

    calls.apply(calls.PREVIOUS)(state.apps, editor)
    assert granted(group) == set(calls.PREVIOUS)
