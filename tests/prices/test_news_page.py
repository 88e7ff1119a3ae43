"""/prices/news/: every headline, newest first, a page at a time, by kind and by symbol."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from prices.models import Headline
from prices.selectors import NEWS_PAGE_SIZE

pytestmark = pytest.mark.django_db

NEWS_URL = reverse("prices:news")


def write(n=1, *, kind="jump", symbol="AAPL", day=1, text="AAPL soars 9 % in heavy trading"):
    now = timezone.now()
    return Headline.objects.bulk_create(
        Headline(
            kind=kind,
            stock_id=symbol,
            sector="Technology" if symbol else "Energy",
            day=day,
            published_at=now - timedelta(minutes=n - i),
            text=text.format(i=i),
            percent=Decimal("9.00"),
        )
        for i in range(n)
    )


def texts(response) -> list[str]:
    return [item.text for item in response.context["page"].items]


def test_the_address_is_the_news_page_not_a_symbol_called_news():
    assert NEWS_URL == "/prices/news/"
    assert resolve(NEWS_URL).url_name == "news"
    assert resolve("/prices/NEWS/").url_name == "quote"


def test_anyone_reads_every_headline_newest_first(anon_client, market):
    write(3, text="Story {i}")
    write(kind="event", symbol=None, day=34, text="Energy stocks fall 8 %: Spill")

    response = anon_client.get(NEWS_URL)

    assert response.status_code == 200
    assert texts(response) == ["Energy stocks fall 8 %: Spill", "Story 2", "Story 1", "Story 0"]
    body = response.content.decode()
    assert "Day 34" in body and "Energy sector" in body and ">Market event</span>" in body
    assert f'href="{reverse("prices:quote", args=["AAPL"])}"' in body
    assert ">Large move</span>" in body and "▲ +9.0 %" in body
    assert "4 headlines" in body


def test_the_news_page_is_in_the_main_navigation(student_client, market):
    body = student_client.get(NEWS_URL).content.decode()
    assert f'<a class="nav-link active" href="{NEWS_URL}">News</a>' in body


def test_the_news_filters_by_kind_and_symbol(anon_client, market):
    write(text="AAPL soars")
    write(kind="earnings", text="AAPL beats estimates")
    write(kind="earnings", symbol="XOM", text="XOM misses estimates")

    assert texts(anon_client.get(NEWS_URL, {"kind": "earnings"})) == [
        "XOM misses estimates",
        "AAPL beats estimates",
    ]
    response = anon_client.get(NEWS_URL, {"kind": "earnings", "symbol": " aapl "})
    assert texts(response) == ["AAPL beats estimates"]
    body = response.content.decode()
    assert "News about AAPL" in body and "Apple Inc." in body
    assert 'value="AAPL"' in body and 'value="earnings" selected' in body


def test_a_filter_without_matches_says_so(anon_client, market):
    write()
    response = anon_client.get(NEWS_URL, {"kind": "split"})
    assert response.status_code == 200
    assert "No headline matches these filters." in response.content.decode()


def test_without_news_the_page_says_where_news_comes_from(anon_client, market):
    assert "No news yet." in anon_client.get(NEWS_URL).content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"kind": "gossip"}, "The kind of news must be one of earnings, dividend, split, jump"),
        ({"symbol": "<b>$$</b>"}, "“&lt;b&gt;$$&lt;/b&gt;” is not a ticker symbol."),
        ({"symbol": "A" * 40}, "That is not a ticker symbol"),
        ({"kind": ["jump", "event"]}, "This field was sent twice; send it once."),
    ],
)
def test_a_bad_filter_is_a_400_with_its_message(anon_client, market, query, message):
    write()
    response = anon_client.get(NEWS_URL, query)

    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body and message in body
    assert "AAPL soars" not in body


def test_an_unknown_symbol_says_there_is_no_such_symbol(anon_client, market):
    write()
    response = anon_client.get(NEWS_URL, {"symbol": "nope"})

    assert response.status_code == 404
    assert "There is no such symbol on this market: NOPE." in response.content.decode()


def test_the_news_comes_a_page_at_a_time(anon_client, market):
    write(NEWS_PAGE_SIZE + 3, text="Story {i}")

    first = anon_client.get(NEWS_URL, {"symbol": "AAPL"})
    last = anon_client.get(NEWS_URL, {"symbol": "AAPL", "page": "2"})
    beyond = anon_client.get(NEWS_URL, {"page": "abc"})

    assert texts(first)[0] == f"Story {NEWS_PAGE_SIZE + 2}"
    assert texts(last) == ["Story 2", "Story 1", "Story 0"]
    assert "Older ›" in first.content.decode() and "page=2" in first.content.decode()
    assert "symbol=AAPL" in first.content.decode()
    assert texts(beyond) == texts(first)


@pytest.mark.parametrize("size", [2, 120])
def test_the_news_page_runs_a_fixed_number_of_queries(
    anon_client, student_client, market, size, django_assert_num_queries
):
    write(size)
    write(size, kind="earnings", symbol="XOM")

    with django_assert_num_queries(2):  # the count, the page
        assert anon_client.get(NEWS_URL).status_code == 200
    with django_assert_num_queries(3):  # the symbol's company, the count, the page
        assert anon_client.get(NEWS_URL, {"symbol": "XOM", "kind": "earnings"}).status_code == 200
    with django_assert_num_queries(4):  # and the student's session and user
        assert student_client.get(NEWS_URL, {"page": "2"}).status_code == 200
