"""Tokens made at the same moment, on PostgreSQL with real threads and row locks."""

import pytest

from api.models import ApiToken
from api.services import MAX_ACTIVE_TOKENS, DuplicateRequest, NewToken, TokenError, create_token
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_form_sent_several_times_at_once_makes_one_token(student):
    results = run_concurrently(
        [lambda: create_token(user=student, name="bot", form_token="f" * 32) for _ in range(4)]
    )

    made = [r for r in results if isinstance(r, NewToken)]
    repeated = [r for r in results if isinstance(r, DuplicateRequest)]
    assert (len(made), len(repeated)) == (1, 3), results
    assert ApiToken.objects.filter(user=student).count() == 1


def test_tokens_made_at_once_stop_at_the_most_one_may_have(student):
    for n in range(MAX_ACTIVE_TOKENS - 2):
        create_token(user=student, name=f"bot {n}")

    results = run_concurrently(
        [lambda n=n: create_token(user=student, name=f"racer {n}") for n in range(5)]
    )

    refused = [r for r in results if isinstance(r, TokenError)]
    assert len(refused) == 3, results
    assert ApiToken.objects.filter(user=student, revoked_at__isnull=True).count() == (
        MAX_ACTIVE_TOKENS
    )
