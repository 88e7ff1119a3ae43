"""Cash in the admin: visible to instructors, read-only for everybody, superusers included."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from ledger.models import Balance, Transaction
from ledger.services import debit, deposit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def class_instructor_client(instructor, client):
    instructor.groups.add(ensure_instructor_group())
    client.force_login(instructor)
    return client


@pytest.fixture
def journal(student, other_student):
    deposit(user=student, amount=Decimal("250.00"), description="alice deposit")
    debit(user=student, type="buy", amount=Decimal("100.00"), symbol="ACME")
    deposit(user=other_student, amount=Decimal("7.00"), description="bob deposit")


MODELS = ["balance", "transaction"]


@pytest.mark.parametrize("model", MODELS)
def test_superusers_see_the_lists_but_cannot_add_change_or_delete(
    superuser_client, journal, student, model
):
    obj = (Balance if model == "balance" else Transaction).objects.filter(user=student).first()

    changelist = superuser_client.get(reverse(f"admin:ledger_{model}_changelist"))
    assert changelist.status_code == 200
    assert "alice" in changelist.content.decode()

    assert superuser_client.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    change_url = reverse(f"admin:ledger_{model}_change", args=[obj.pk])
    detail = superuser_client.get(change_url)
    assert detail.status_code == 200  # viewable…
    assert 'name="_save"' not in detail.content.decode()  # …but with nothing to save
    assert superuser_client.post(change_url, {"amount": "1.00"}).status_code == 403
    delete_url = reverse(f"admin:ledger_{model}_delete", args=[obj.pk])
    assert superuser_client.get(delete_url).status_code == 403
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Balance.objects.get(user=student).amount == Decimal("10150.00")
    assert Transaction.objects.filter(user=student).count() == 3


def test_the_bulk_delete_action_is_not_offered(superuser_client, journal):
    page = superuser_client.get(reverse("admin:ledger_transaction_changelist"))
    assert "delete_selected" not in page.content.decode()


def test_transactions_are_searched_by_username_and_filtered_by_type(superuser_client, journal):
    url = reverse("admin:ledger_transaction_changelist")

    alice = superuser_client.get(url, {"q": "alice"}).content.decode()
    assert "alice deposit" in alice and "bob deposit" not in alice

    buys = superuser_client.get(url, {"type__exact": "buy"}).content.decode()
    assert "ACME" in buys and "alice deposit" not in buys


def test_balances_are_searched_by_username(superuser_client, journal):
    page = superuser_client.get(reverse("admin:ledger_balance_changelist"), {"q": "bob"})
    rows = page.context["cl"].result_list
    assert [b.user.username for b in rows] == ["bob"]


def test_instructors_can_view_cash_but_not_change_it(class_instructor_client, journal):
    assert (
        class_instructor_client.get(reverse("admin:ledger_transaction_changelist")).status_code
        == 200
    )
    assert (
        class_instructor_client.get(reverse("admin:ledger_balance_changelist")).status_code == 200
    )
    assert class_instructor_client.get(reverse("admin:ledger_balance_add")).status_code == 403


def test_students_cannot_open_the_cash_admin(student_client, journal):
    response = student_client.get(reverse("admin:ledger_transaction_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_the_grant_cash_permission_exists_for_the_instructors_group(instructor):
    group = ensure_instructor_group()
    assert Permission.objects.filter(
        content_type__app_label="ledger", codename="grant_cash"
    ).exists()
    assert group.permissions.filter(codename="grant_cash").exists()
    instructor.groups.add(group)
    assert instructor.has_perm("ledger.grant_cash")
