"""Passwords are stored with PBKDF2-SHA256 at 600,000 iterations (accounts/hashers.py)."""

import pytest
from django.contrib.auth import hashers
from django.urls import reverse

from tests.factories import StudentFactory

pytestmark = pytest.mark.real_hasher


def test_a_new_password_is_pbkdf2_sha256_at_600000_iterations():
    encoded = hashers.make_password("a-Long-pa55word")
    algorithm, iterations, _salt, _hash = encoded.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256", "600000")
    assert hashers.check_password("a-Long-pa55word", encoded)
    assert not hashers.check_password("a-long-pa55word", encoded)


def test_each_algorithm_has_one_hasher():
    """Two hashers of one algorithm name would rehash each other's hashes at every log-in."""
    algorithms = [hasher.algorithm for hasher in hashers.get_hashers()]
    assert len(algorithms) == len(set(algorithms))


@pytest.mark.django_db
def test_a_hash_at_djangos_million_iterations_is_rehashed_at_the_next_log_in(client):
    django_default = hashers.PBKDF2PasswordHasher()  # Django 5.2: 1,000,000 iterations
    assert django_default.iterations == 1_000_000
    student = StudentFactory()
    student.password = django_default.encode("a-Long-pa55word", django_default.salt())
    student.save(update_fields=["password"])

    response = client.post(
        reverse("login"), {"username": student.username, "password": "a-Long-pa55word"}
    )

    assert response.status_code == 302
    student.refresh_from_db()
    assert student.password.startswith("pbkdf2_sha256$600000$")
    assert hashers.check_password("a-Long-pa55word", student.password)
