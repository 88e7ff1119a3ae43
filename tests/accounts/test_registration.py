from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
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


# Signing up with a class code ---------------------------------------------------------


@pytest.fixture
def period1(db):
    from tests.factories import ClassroomFactory

    return ClassroomFactory(name="Period 1", join_code="KX7M3QPA", starting_cash=Decimal("25000"))


@pytest.mark.django_db
def test_register_with_a_class_code_joins_the_class_with_its_starting_cash(client, period1):
    response = register(client, class_code="kx7m-3qpa")

    assert response.status_code == 302
    user = User.objects.get(username="carol")
    assert user.classroom == period1
    assert Balance.objects.get(user=user).amount == Decimal("25000.00")
    row = Transaction.objects.get(user=user)  # one row: no sandbox cash to set aside
    assert (row.type, row.amount, row.description) == (
        "deposit",
        Decimal("25000.00"),
        "Starting cash",
    )
    page = client.get(response.url).content.decode()
    assert "You are in Period 1. You start with $25,000.00." in page


@pytest.mark.django_db
def test_register_without_a_class_code_starts_in_no_class_with_the_settings_cash(
    client, period1, settings
):
    register(client, class_code="")

    user = User.objects.get(username="carol")
    assert user.classroom is None
    assert Balance.objects.get(user=user).amount == settings.STARTING_CASH


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, message",
    [
        ("KX7M3QPB", "No class has the code KX7M3QPB; check it with your teacher."),
        ("KX7M", "A class code has 8 letters and digits"),
    ],
)
def test_register_with_a_bad_class_code_is_a_400_and_creates_nothing(
    client, period1, code, message
):
    response = register(client, class_code=code)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(username="carol").exists()
    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_register_into_a_full_class_is_a_400_and_creates_nothing(client, period1):
    from tests.factories import StudentFactory

    period1.seat_limit = 1
    period1.save()
    StudentFactory(classroom=period1)

    response = register(client, class_code="KX7M3QPA")

    assert response.status_code == 400
    assert "Period 1 is full" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


@pytest.mark.django_db
def test_wrong_codes_on_the_sign_up_form_are_limited_per_address(client, period1):
    from accounts import code_attempts

    for n in range(code_attempts.PER_ADDRESS):
        wrong = register(client, username=f"s{n}", email=f"s{n}@x.example", class_code="AAAAAAAA")
        assert wrong.status_code == 400
    response = register(client, class_code="KX7M3QPA")

    assert response.status_code == 429
    assert "try again after" in response.content.decode()
    assert not User.objects.exists()
    other = register(Client(REMOTE_ADDR="10.0.0.9"), class_code="KX7M3QPA")
    assert other.status_code == 302
