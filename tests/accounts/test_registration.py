from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from ledger.models import Balance, Transaction

User = get_user_model()

STRONG = "Tr4ding-Floor-2026"


def register(client, **overrides):
    data = {
        "username": "carol",
        "email": "carol@school.example",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }
    return client.post(reverse("register"), data)


@pytest.mark.django_db
def test_register_creates_user_balance_and_starting_cash_row_then_logs_in(client, settings):
    response = register(client)

    assert response.status_code == 302
    assert response.url == reverse("portfolio:dashboard")
    user = User.objects.get(username="carol")
    assert Balance.objects.get(user=user).amount == settings.STARTING_CASH
    row = Transaction.objects.get(user=user)
    assert (row.type, row.amount, row.description) == (
        "deposit",
        Decimal("10000.00"),
        "Starting cash",
    )
    assert row.balance_after == Decimal("10000.00")
    assert client.get(reverse("portfolio:dashboard")).status_code == 200


@pytest.mark.django_db
def test_register_with_email_differing_only_in_case_is_rejected(client, student):
    response = register(client, email=student.email.upper())

    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.django_db
def test_database_refuses_duplicate_email_in_other_case(student):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="x", email="ALICE@school.example", password=STRONG)


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["password", "12345678", "carol123", "short"])
def test_register_with_weak_password_is_rejected_and_creates_nothing(client, password):
    response = register(client, password1=password, password2=password)

    assert response.status_code == 400
    assert not User.objects.exists()
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_register_with_mismatched_passwords_is_rejected(client):
    response = register(client, password2=STRONG + "x")

    assert response.status_code == 400
    assert "didn’t match" in response.content.decode() or "match" in response.content.decode()


@pytest.mark.django_db
def test_register_with_taken_username_is_rejected(client, student):
    response = register(client, username="alice")

    assert response.status_code == 400
    assert User.objects.filter(username="alice").count() == 1


@pytest.mark.django_db
@pytest.mark.real_hasher
def test_password_is_stored_as_pbkdf2_in_users_password_hash(client):
    register(client)

    with connection.cursor() as cursor:
        cursor.execute("SELECT password_hash FROM users WHERE username = %s", ["carol"])
        (stored,) = cursor.fetchone()
    assert stored.startswith("pbkdf2_sha256$")
    assert STRONG not in stored


@pytest.mark.django_db
def test_registration_failure_midway_leaves_no_user(monkeypatch):
    from accounts import services

    def boom(**kwargs):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(services, "open_account", boom)
    with pytest.raises(RuntimeError):
        services.register_student(username="dave", email="dave@school.example", password=STRONG)
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.django_db
def test_register_page_renders_for_anonymous(client):
    response = client.get(reverse("register"))
    assert response.status_code == 200
    assert "Create your account" in response.content.decode()


@pytest.mark.django_db
def test_logged_in_user_is_sent_from_register_to_dashboard(student_client):
    assert student_client.get(reverse("register")).url == reverse("portfolio:dashboard")


@pytest.mark.django_db
def test_a_username_taken_between_the_check_and_the_insert_is_a_400_not_a_500(client, monkeypatch):
    from accounts import views

    real = views.register_student

    def racing(**kwargs):
        # Another registration with the same username commits first.
        User.objects.create_user(username=kwargs["username"], email="first@school.example")
        return real(**kwargs)

    monkeypatch.setattr(views, "register_student", racing)
    response = register(client)

    assert response.status_code == 400
    assert "just taken" in response.content.decode()
    assert User.objects.filter(username="carol").count() == 1
    assert not Balance.objects.exists()
