"""Plain words: the glossary (tradesim.glossary), its page, and the {% explain %} tag that
puts a word's short explanation next to it on the students' pages."""

import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from classrooms.describe import RANKING_TERMS, rules
from classrooms.models import Classroom
from classrooms.rules import Rulebook
from ledger import services as ledger
from portfolio.services import after_tick
from tests.factories import ClassroomFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, tick
from tradesim.glossary import GLOSSARY, SECTIONS

D = Decimal
TEMPLATES = Path(settings.BASE_DIR) / "templates"
EXPLAIN = re.compile(r"""\{%\s*explain\s+(["'])(.*?)\1\s*%\}""")
GLOSSARY_URL = reverse("glossary")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ids_on(page: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', page)


# The glossary itself ----------------------------------------------------------------------


def test_every_word_the_templates_explain_is_in_the_glossary():
    used = {
        match[2]: path.relative_to(TEMPLATES)
        for path in TEMPLATES.rglob("*.html")
        for match in EXPLAIN.finditer(path.read_text())
    }
    assert len(used) >= 25, "the pattern finds the {% explain %} tags"
    assert {key: where for key, where in used.items() if key not in GLOSSARY} == {}


def test_every_word_explained_from_code_is_in_the_glossary():
    """Keys that reach {% explain %} through a variable: each ranking's term and each class
    rule's."""
    assert set(RANKING_TERMS) == set(Classroom.Ranking.values)
    for term in RANKING_TERMS.values():
        assert GLOSSARY[term].why, f"{term} says why a class might be ranked by it"
    every_rule = Rulebook(
        classroom_id=1,
        max_position_percent=D("25"),
        max_trades_per_day=3,
        min_trades_to_rank=2,
        margin=True,
        short_selling=True,
    )
    terms = [rule.term for rule in rules(every_rule) if rule.term]
    assert {"margin", "short-selling"} <= set(terms)
    assert len(terms) >= 7
    assert [term for term in terms if term not in GLOSSARY] == []


def test_short_selling_words_are_explained_in_plain_words():
    for key in ("short-selling", "buy-to-cover", "borrow-fee"):
        term = GLOSSARY[key]
        assert term.short.endswith(".") and term.text, key
        # Short sentences, for a 15-year-old.
        assert max(len(sentence.split()) for sentence in term.short.split(". ")) <= 25, key
    assert GLOSSARY["short-selling"].term == "Selling short (Sell short)"
    assert GLOSSARY["buy-to-cover"].term == "Buy to cover"


def test_entries_have_unique_anchors_and_say_something():
    ids = [term.id for section in SECTIONS for term in section.terms]
    section_ids = [section.id for section in SECTIONS]
    assert len(ids) == len(GLOSSARY)
    assert not [i for i, n in Counter(ids + section_ids).items() if n > 1]
    for term in GLOSSARY.values():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", term.id), term.id
        assert term.short.endswith("."), term.id
        assert len(term.short) <= 300, f"{term.id}: a short explanation is a sentence or two"


def test_the_glossary_explains_the_words_the_issue_names():
    for key in [
        "market-order",
        "commission",
        "net-contributions",
        "average-cost",
        "cost-basis",
        "market-value",
        "weight",
        "sector",
        "unrealized-pnl",
        "realized-pnl",
        "total-return",
        "time-weighted-return",
        "max-drawdown",
        "indexed-chart",
        "market-index",
        "volatility",
        "risk-adjusted-return",
        "excess-return",
        "trading-day",
        "today",
        "final-standings",
    ]:
        assert key in GLOSSARY


# The tag ------------------------------------------------------------------------------------


def test_an_unknown_word_fails_when_the_template_is_compiled():
    with pytest.raises(TemplateSyntaxError, match="No glossary entry 'time-weighed-return'"):
        Template('{% load glossary %}{% explain "time-weighed-return" %}')


def test_an_unknown_word_from_a_variable_fails_when_rendered():
    template = Template("{% load glossary %}{% explain key %}")
    with pytest.raises(TemplateSyntaxError, match="No glossary entry 'nope'"):
        template.render(Context({"key": "nope"}))


def test_explain_is_a_disclosure_with_the_short_text_and_a_link_to_the_entry():
    page = Template('{% load glossary %}{% explain "max-drawdown" %}').render(Context())

    assert page.startswith('<details class="explain" id="explain-page-max-drawdown" hx-preserve>')
    assert "<summary" in page and "What is “Max drawdown”?" in page
    assert GLOSSARY["max-drawdown"].short in page
    assert f'href="{GLOSSARY_URL}#max-drawdown"' in page


def test_each_explanation_on_a_page_has_an_id_of_its_own():
    page = Template('{% load glossary %}{% explain "today" %}{% explain "today" %}').render(
        Context()
    )
    assert re.findall(r'id="(explain-[^"]+)"', page) == [
        "explain-page-today",
        "explain-page-today-2",
    ]


# The page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_glossary_page_is_public_and_has_every_entry_at_its_anchor(
    django_assert_num_queries,
):
    with django_assert_num_queries(0):
        response = Client().get(GLOSSARY_URL)

    assert response.status_code == 200
    page = response.content.decode()
    for term in GLOSSARY.values():
        assert f'id="{term.id}"' in page
        assert f'href="#{term.id}"' in page  # in the list at the top
        assert escape(term.short) in page
    assert "Why a class might be ranked by it:" in page
    assert not [i for i, n in Counter(ids_on(page)).items() if n > 1]


@pytest.mark.django_db
def test_every_page_links_to_the_glossary(student):
    for client in (Client(), login(student)):
        page = client.get(reverse("prices:market")).content.decode()
        assert f'href="{GLOSSARY_URL}"' in page


# The students' pages ----------------------------------------------------------------------


@pytest.fixture
def invested(student):
    listed("AAPL", "100.00")
    buy(student, "AAPL", 10)
    return student


@pytest.mark.django_db
def test_the_dashboard_explains_its_words_and_links_to_the_glossary(invested):
    page = login(invested).get(reverse("portfolio:dashboard")).content.decode()

    for key in [
        "total-value",
        "today",
        "total-return",
        "net-contributions",
        "time-weighted-return",
        "max-drawdown",
        "unrealized-pnl",
        "realized-pnl",
        "average-cost",
        "weight",
        "allocation",
        "indexed-chart",
    ]:
        assert f'href="{GLOSSARY_URL}#{key}"' in page, key
    assert not [i for i, n in Counter(ids_on(page)).items() if n > 1]


@pytest.mark.django_db
def test_the_live_section_has_the_same_explanations_by_id_as_the_full_page(invested):
    """The dashboard's live section is swapped in every few seconds; an open explanation stays
    open (htmx's hx-preserve) only if it has the same id in both."""
    client = login(invested)
    full = client.get(reverse("portfolio:dashboard")).content.decode()
    live = client.get(reverse("portfolio:live")).content.decode()

    live_ids = re.findall(r'id="(explain-[^"]+)" hx-preserve', live)
    assert "explain-live-time-weighted-return" in live_ids
    assert "explain-live-today-2" in live_ids  # the card's and the table's
    assert set(live_ids) <= set(re.findall(r'id="(explain-[^"]+)" hx-preserve', full))


# The leaderboard ----------------------------------------------------------------------------


@pytest.fixture
def twr_class(db, settings):
    """Period 2, ranked by time-weighted return. ann: 10 XYZ bought at 100.00 and recorded
    (a snapshot: 10,000 units of 1.00); XYZ rises to 120.00 (+200.00), then she deposits
    1,000.00. Time-weighted return (11,200 − 1,000) / 10,000 − 1 = +2.00 %; total return
    200 / 11,000 = +1.82 %."""
    classroom = ClassroomFactory(
        name="Period 2", starts_at=timezone.now() - timedelta(days=1), ranking="twr"
    )
    listed("XYZ", "100.00")
    ann = StudentFactory(username="ann", classroom=classroom)
    buy(ann, "XYZ", 10)
    after_tick(ticks=1, timestamp=timezone.now())
    tick({"XYZ": "120.00"}, timezone.now())
    ledger.deposit(user=ann, amount="1000.00")
    return classroom


def test_the_leaderboard_says_why_it_ranks_by_its_metric_and_shows_total_return(twr_class):
    ann = twr_class.students.get(username="ann")
    page = login(ann).get(reverse("portfolio:leaderboard")).content.decode()

    why = re.search(r'<span id="ranked-why"[^>]*>(.*?)</span>\n', page)[1]
    assert GLOSSARY["time-weighted-return"].why in why
    assert f'href="{GLOSSARY_URL}#time-weighted-return"' in why
    header = re.search(r"<thead[^>]*>.*?</thead>", page, re.DOTALL)[0]
    assert "Time-weighted return" in header and "Total return" in header
    row = re.search(r'<tr[^>]*data-user="ann".*?</tr>', page, re.DOTALL)[0]
    cells = re.findall(r'<span class="pnl [^"]+">(.*?)</span>', row)
    assert cells == ["▲ +2.00%", "▲ +1.82%"]  # the metric, then total return beside it
    assert "time-weighted return ▲ +2.00%, total return ▲ +1.82%, total value $11,200.00" in (
        re.sub(r"<[^>]+>", "", re.sub(r"\s+", " ", re.sub(r"<details.*?</details> ?", "", page)))
    )


@pytest.mark.django_db
def test_a_board_ranked_by_total_return_does_not_show_it_twice(student):
    classroom = ClassroomFactory(name="Period 3", ranking="total_return")
    student.classroom = classroom
    student.save(update_fields=["classroom"])

    page = login(student).get(reverse("portfolio:leaderboard")).content.decode()

    assert "col-total-return" not in page
    assert GLOSSARY["total-return"].why in page


@pytest.mark.django_db
@pytest.mark.parametrize("ranking", Classroom.Ranking.values)
def test_each_ranking_says_why_on_the_leaderboard_and_the_rules(student, ranking):
    classroom = ClassroomFactory(name="Period 4", ranking=ranking)
    student.classroom = classroom
    student.save(update_fields=["classroom"])
    client = login(student)

    board = client.get(reverse("portfolio:leaderboard")).content.decode()
    assert GLOSSARY[RANKING_TERMS[ranking]].why in board
    class_rules = client.get(reverse("classes:rules")).content.decode()
    assert f'href="{GLOSSARY_URL}#{RANKING_TERMS[ranking]}"' in class_rules
