"""tradesim.lookups: `in` on an integer column with values the column cannot hold."""

import pytest
from django.contrib.auth.models import Permission

from trading.models import Trade

pytestmark = pytest.mark.django_db

HUGE = 99999999999999999999


def test_in_leaves_out_values_past_the_column_and_finds_the_rest():
    some = Permission.objects.order_by("pk").first()

    assert list(Permission.objects.filter(pk__in=[HUGE, some.pk, -HUGE])) == [some]


def test_in_with_only_impossible_values_finds_nothing():
    assert list(Trade.objects.filter(pk__in=[HUGE])) == []
    assert Trade.objects.exclude(pk__in=[HUGE, -HUGE]).count() == Trade.objects.count()


def test_in_with_values_the_column_holds_is_unchanged():
    pks = list(Permission.objects.values_list("pk", flat=True)[:3])

    assert sorted(Permission.objects.filter(pk__in=pks).values_list("pk", flat=True)) == sorted(pks)


def test_exact_on_a_relation_to_an_integer_key_finds_nothing_past_the_column(student):
    from portfolio.models import PortfolioSummary

    PortfolioSummary.objects.create(user=student)

    assert list(PortfolioSummary.objects.filter(pk=HUGE)) == []
    assert list(PortfolioSummary.objects.filter(user=-HUGE)) == []
    assert PortfolioSummary.objects.filter(user__in=[HUGE, student.pk]).get().user == student
    assert PortfolioSummary.objects.exclude(pk=HUGE).count() == 1
