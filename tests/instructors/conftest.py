"""Instructors' fixtures: a teacher in the Instructors group who runs Periods 1 and 2, with alice
and bob in Period 1, a superuser, a small market."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.roles import ensure_instructor_group
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory, UserFactory


@pytest.fixture
def teacher(instructor):
    """The `instructor` persona with the Instructors group's permissions."""
    instructor.groups.add(ensure_instructor_group())
    return instructor


@pytest.fixture
def teacher_client(teacher):
    c = Client()
    c.force_login(teacher)
    return c


@pytest.fixture
def superuser(db):
    return UserFactory(
        username="root", email="root@school.example", is_staff=True, is_superuser=True
    )


@pytest.fixture
def superuser_client(superuser):
    c = Client()
    c.force_login(superuser)
    return c


@pytest.fixture
def market(db):
    return {
        "AAPL": PriceFactory(symbol="AAPL", sector="Technology", price=Decimal("200.00")),
        "MSFT": PriceFactory(symbol="MSFT", sector="Technology", price=Decimal("400.00")),
        "XOM": PriceFactory(symbol="XOM", sector="Energy", price=Decimal("100.00")),
    }


@pytest.fixture
def period1(instructor):
    """The teacher's class; alice and bob are in it."""
    classroom = ClassroomFactory(name="Period 1")
    classroom.owners.add(instructor)
    return classroom


@pytest.fixture
def period2(instructor):
    """The teacher's other class."""
    classroom = ClassroomFactory(name="Period 2")
    classroom.owners.add(instructor)
    return classroom


@pytest.fixture
def student(period1):
    """alice, in the teacher's Period 1: an instructor sees only their own classes."""
    return StudentFactory(username="alice", email="alice@school.example", classroom=period1)


@pytest.fixture
def other_student(period1):
    return StudentFactory(username="bob", email="bob@school.example", classroom=period1)


@pytest.fixture
def carol(period2):
    """A student in another class."""
    return StudentFactory(username="carol", email="carol@school.example", classroom=period2)
