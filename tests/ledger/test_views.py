"""The cash pages: status codes, messages, the one-time token, the journal and its CSV."""

import csv
import io
import logging
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ledger import views
from ledger.models import Balance, Transaction
from ledger.services import credit, debit, deposit, withdraw
from tests.factories import ClassroomFactory, TransactionFactory

pytestmark = pytest.mark.django_db

D = Decimal
JOURNAL = reverse("ledger:journal")
DEPOSIT = reverse("ledger:deposit")
WITHDRAW = reverse("ledger:withdraw")


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def flashes(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def text(response) -> str:
    return response.content.decode()


def csv_rows(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def add_rows(user, count: int):
    """`count` deposits of $1 in one go, after the user's last row, keeping the running
    balance and the balance right."""
    last = Transaction.objects.filter(user=user).latest("timestamp", "id")
    balance = last.balance_after
    objs = []
    for i in range(count):
        balance += D("1.00")
        objs.append(
            Transaction(
                user=user,
                type="deposit",
                amount=D("1.00"),
                balance_after=balance,
                description=f"row {i}",
                timestamp=last.timestamp + timedelta(seconds=i + 1),
            )
        )
    Transaction.objects.bulk_create(objs)
    Balance.objects.filter(user=user).update(amount=balance)


# who may see the pages -----------------------------------------------------------------


@pytest.mark.parametrize("url", [JOURNAL, DEPOSIT, WITHDRAW, JOURNAL + "?format=csv"])
def test_anonymous_visitors_are_sent_to_log_in(anon_client, url):
    response = anon_client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("url", [DEPOSIT, WITHDRAW])
def test_anonymous_posts_change_nothing(anon_client, student, url):
    response = anon_client.post(url, {"amount": "100"})
    assert response.status_code == 302
    assert cash(student) == D("10000.00")


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
@pytest.mark.parametrize("url", [DEPOSIT, WITHDRAW])
def test_other_methods_are_not_allowed(student_client, url, method):
    assert getattr(student_client, method)(url).status_code == 405


def test_the_journal_only_answers_get(student_client):
    assert student_client.post(JOURNAL).status_code == 405


# deposit -------------------------------------------------------------------------------


def test_deposit_page_shows_the_balance_the_limits_and_a_fresh_token(student_client, settings):
    settings.MAX_DEPOSIT = D("25000.00")

    response = student_client.get(DEPOSIT)

    assert response.status_code == 200
    page = text(response)
    assert "$10,000.00" in page
    assert "Largest single deposit" in page and "$25,000.00" in page
    assert 'name="token"' in page
    assert 'name="description"' in page
    assert "Birthday money" in page  # the description's example
    token = response.context["form"]["token"].value()
    assert f'value="{token}"' in page
    assert student_client.get(DEPOSIT).context["form"]["token"].value() != token


def test_deposit_page_shows_what_is_left_under_the_cap(student_client, student, settings):
    settings.MAX_TOTAL_DEPOSITS = D("1000.00")
    deposit(user=student, amount=D("300.00"))

    page = text(student_client.get(DEPOSIT))

    assert "Class limit on deposits" in page
    assert 'id="deposit-remaining">$700.00' in page


def test_a_deposit_redirects_with_the_new_balance(student_client, student):
    response = student_client.post(
        DEPOSIT, {"amount": "250", "description": "Birthday money", "token": "tok-1"}
    )

    assert response.status_code == 302
    assert response.url == JOURNAL
    assert flashes(response) == [("success", "Deposited $250.00. Your balance is now $10,250.00.")]
    row = Transaction.objects.filter(user=student).latest("id")
    assert (row.type, row.amount, row.description, row.token) == (
        "deposit",
        D("250.00"),
        "Birthday money",
        "tok-1",
    )
    assert cash(student) == D("10250.00")


def test_a_deposit_without_a_token_still_works(student_client, student):
    assert student_client.post(DEPOSIT, {"amount": "1"}).status_code == 302
    assert cash(student) == D("10001.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount."),
        ("abc", "Enter an amount such as 250 or 99.95."),
        ("NaN", "is not an amount of money"),
        ("1e5", "without an exponent"),
        ("10.005", "at most two decimal places"),
        ("-50", "can&#x27;t be negative"),
        ("0", "must be more than zero"),
        ("١٠", "digits 0–9 only"),
    ],
)
def test_a_bad_amount_is_refused_with_400_and_changes_nothing(
    student_client, student, amount, message
):
    response = student_client.post(DEPOSIT, {"amount": amount, "token": "tok-bad"})

    assert response.status_code == 400
    assert message in text(response)
    assert cash(student) == D("10000.00")
    assert Transaction.objects.filter(user=student).count() == 1


REPEATED = "This field was sent twice; send it once."
CHANGED = "Part of this form was changed or has expired: reload the page and try again."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": ["1", "2"]}, REPEATED),
        ({"amount": ["5", "5"]}, REPEATED),
        ({"amount": "5", "description": ["a", "b"]}, REPEATED),
        ({"amount": "5", "token": ["tok-1", "tok-2"]}, CHANGED),  # a hidden field
    ],
)
def test_a_field_sent_twice_is_refused_with_400_and_changes_nothing(
    student_client, student, data, message
):
    response = student_client.post(DEPOSIT, data)

    assert response.status_code == 400
    assert message in text(response)
    assert cash(student) == D("10000.00")
    assert Transaction.objects.filter(user=student).count() == 1


def test_a_deposit_above_the_maximum_is_refused_with_400(student_client, student, settings):
    settings.MAX_DEPOSIT = D("500.00")

    response = student_client.post(DEPOSIT, {"amount": "500.01"})

    assert response.status_code == 400
    assert "A single deposit is at most $500.00" in text(response)
    assert cash(student) == D("10000.00")


def test_a_deposit_over_the_cap_is_refused_with_400(student_client, student, settings):
    settings.MAX_TOTAL_DEPOSITS = D("100.00")

    response = student_client.post(DEPOSIT, {"amount": "100.01"})

    assert response.status_code == 400
    assert "you can deposit at most $100.00 more" in text(response)
    assert cash(student) == D("10000.00")


def test_when_the_cap_is_reached_the_page_says_so(student_client, student, settings):
    settings.MAX_TOTAL_DEPOSITS = D("100.00")
    deposit(user=student, amount=D("100.00"))

    page = student_client.get(DEPOSIT)

    assert page.status_code == 200
    assert "reached the class limit on deposits" in text(page)
    assert 'name="amount"' not in text(page)
    response = student_client.post(DEPOSIT, {"amount": "1"})
    assert response.status_code == 400
    assert "no more deposits are possible" in text(response)


def test_when_deposits_are_closed_the_page_says_so_and_a_post_is_refused(
    student_client, student, settings
):
    settings.DEPOSITS_OPEN = False

    page = student_client.get(DEPOSIT)
    assert page.status_code == 200
    assert "Deposits are closed." in text(page)
    assert 'name="amount"' not in text(page)

    response = student_client.post(DEPOSIT, {"amount": "10"})
    assert response.status_code == 400
    assert "Deposits are closed for this class" in text(response)
    assert cash(student) == D("10000.00")


# the one-time token --------------------------------------------------------------------


def test_a_double_post_with_the_same_token_deposits_once(student_client, student):
    data = {"amount": "100.00", "token": "double-click"}

    first = student_client.post(DEPOSIT, data)
    second = student_client.post(DEPOSIT, data)

    assert first.status_code == second.status_code == 302
    assert second.url == JOURNAL
    # Both answers are waiting on the next page: the deposit, and that the repeat did nothing.
    assert flashes(second) == [
        ("success", "Deposited $100.00. Your balance is now $10,100.00."),
        (
            "info",
            "That deposit of $100.00 was already made; it was recorded once, not twice. "
            "Balance: $10,100.00.",
        ),
    ]
    assert Transaction.objects.filter(user=student, token="double-click").count() == 1
    assert cash(student) == D("10100.00")


def test_a_double_post_with_the_same_token_withdraws_once(student_client, student):
    data = {"amount": "40", "token": "retry"}
    student_client.post(WITHDRAW, data)
    repeat = student_client.post(WITHDRAW, data)
    assert repeat.status_code == 302
    assert "withdrawal of $40.00 was already made" in flashes(repeat)[-1][1]
    assert cash(student) == D("9960.00")


def test_a_refused_form_keeps_its_token_so_the_corrected_post_goes_through(student_client, student):
    refused = student_client.post(WITHDRAW, {"amount": "20000", "token": "keep-me"})
    assert refused.status_code == 400
    assert 'value="keep-me"' in text(refused)

    accepted = student_client.post(WITHDRAW, {"amount": "20", "token": "keep-me"})
    assert accepted.status_code == 302
    assert cash(student) == D("9980.00")


def test_tokens_of_different_students_do_not_collide(student_client, other_client, student):
    student_client.post(DEPOSIT, {"amount": "5", "token": "shared"})
    response = other_client.post(DEPOSIT, {"amount": "5", "token": "shared"})
    assert flashes(response)[0][0] == "success"


# withdraw ------------------------------------------------------------------------------


def test_withdraw_page_shows_the_balance_and_the_limit(student_client):
    response = student_client.get(WITHDRAW)
    assert response.status_code == 200
    assert "You can withdraw up to" in text(response)
    assert "Up to $10,000.00" in text(response)


def test_a_withdrawal_redirects_with_the_new_balance(student_client, student):
    response = student_client.post(WITHDRAW, {"amount": "2500"})
    assert response.status_code == 302
    assert flashes(response) == [("success", "Withdrew $2,500.00. Your balance is now $7,500.00.")]
    assert cash(student) == D("7500.00")


def test_withdrawing_more_than_the_balance_is_refused_with_400(student_client, student):
    response = student_client.post(WITHDRAW, {"amount": "10000.01"})

    assert response.status_code == 400
    assert "You can&#x27;t withdraw $10,000.01: your balance is $10,000.00" in text(response)
    assert cash(student) == D("10000.00")


def test_with_no_cash_the_withdraw_page_says_so(student_client, student):
    withdraw(user=student, amount=D("10000.00"))
    response = student_client.get(WITHDRAW)
    assert "There is no cash to withdraw" in text(response)
    assert 'name="amount"' not in text(response)


# the class's rules -----------------------------------------------------------------------

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)
END = START + timedelta(days=30)


@pytest.fixture
def in_class(student):
    """Puts the logged-in student in a class with the given rules (starting cash as given
    at sign-up: $10,000)."""

    def put(**rules):
        student.classroom = ClassroomFactory(**rules)
        student.save(update_fields=["classroom"])
        return student.classroom

    return put


def logged_in(client, student):
    """Log in once the clock is stopped: a session begun in today's time would have
    expired by the class's dates."""
    client.force_login(student)
    return client


def rejection(caplog) -> str:
    (line,) = [r.getMessage() for r in caplog.records if "cash.rejected" in r.getMessage()]
    return line


def test_deposits_closed_by_the_class_show_on_the_page_and_a_post_gets_400(
    student_client, student, in_class, settings, caplog
):
    settings.DEPOSITS_OPEN = True
    in_class(deposits_open=False)

    page = student_client.get(DEPOSIT)
    assert "Deposits are closed." in text(page)
    assert 'name="amount"' not in text(page)

    caplog.set_level(logging.INFO, logger="tradesim.ledger")
    response = student_client.post(DEPOSIT, {"amount": "10"})
    assert response.status_code == 400
    assert "Deposits are closed for this class" in text(response)
    assert cash(student) == D("10000.00")
    assert "reason=DepositsClosed rule=deposits_open" in rejection(caplog)


def test_the_class_deposit_cap_over_http_exactly_then_a_cent_over(
    student_client, student, in_class, settings
):
    settings.MAX_TOTAL_DEPOSITS = None
    in_class(max_total_deposits=D("500.00"))

    assert 'id="deposit-remaining">$500.00' in text(student_client.get(DEPOSIT))
    over = student_client.post(DEPOSIT, {"amount": "500.01"})
    assert over.status_code == 400
    assert "Deposits are capped at $500.00 per student; you can deposit at most $500.00 more." in (
        text(over)
    )
    assert cash(student) == D("10000.00")

    assert student_client.post(DEPOSIT, {"amount": "500.00"}).status_code == 302
    assert cash(student) == D("10500.00")
    refused = student_client.post(DEPOSIT, {"amount": "0.01"})
    assert refused.status_code == 400
    assert cash(student) == D("10500.00")


def test_withdrawals_closed_by_the_class_show_on_the_page_and_a_post_gets_400(
    student_client, student, in_class
):
    in_class(withdrawals_open=False)

    page = student_client.get(WITHDRAW)
    assert "Withdrawals are closed for this class" in text(page)
    assert 'name="amount"' not in text(page)

    response = student_client.post(WITHDRAW, {"amount": "10"})
    assert response.status_code == 400
    assert "Withdrawals are closed for this class" in text(response)
    assert cash(student) == D("10000.00")


@pytest.mark.parametrize("url", [DEPOSIT, WITHDRAW])
def test_after_the_class_ends_cash_pages_say_so_and_posts_get_400(
    client, student, in_class, clock, settings, url
):
    settings.TIME_ZONE = "UTC"
    in_class(starts_at=START, ends_at=END, deposits_open=True)
    clock(END)
    student_client = logged_in(client, student)

    page = student_client.get(url)
    assert "Your class ended Wed 10 Feb at 14:30" in text(page)  # this year: no year
    assert 'name="amount"' not in text(page)

    response = student_client.post(url, {"amount": "10"})
    assert response.status_code == 400
    assert "Your class ended Wed 10 Feb at 14:30" in text(response)
    assert Transaction.objects.filter(user=student).count() == 1


@pytest.mark.parametrize("url", [DEPOSIT, WITHDRAW])
def test_in_the_last_second_of_the_class_cash_still_moves(client, student, in_class, clock, url):
    in_class(starts_at=START, ends_at=END, deposits_open=True)
    clock(END - timedelta(seconds=1))
    student_client = logged_in(client, student)

    assert 'name="amount"' in text(student_client.get(url))
    assert student_client.post(url, {"amount": "10"}).status_code == 302
    assert Transaction.objects.filter(user=student).count() == 2


# a login without a cash account --------------------------------------------------------


def test_an_instructor_without_an_account_is_told_and_cannot_move_cash(instructor_client):
    for url in (DEPOSIT, WITHDRAW, JOURNAL):
        response = instructor_client.get(url)
        assert response.status_code == 200
        assert "no cash account" in text(response)
    response = instructor_client.post(DEPOSIT, {"amount": "10"})
    assert response.status_code == 400
    assert "There is no cash account for this login" in text(response)
    assert not Transaction.objects.filter(user__is_staff=True).exists()


# the journal ---------------------------------------------------------------------------


def test_the_journal_shows_own_rows_newest_first_with_the_running_balance(
    student_client, student, other_student
):
    deposit(user=student, amount=D("500.00"), description="Allowance")
    withdraw(user=student, amount=D("200.00"), description="Savings")
    debit(user=student, type="buy", amount=D("1000.00"), symbol="ACME", description="10 ACME")
    deposit(user=other_student, amount=D("1.00"), description="Bob's secret")

    response = student_client.get(JOURNAL)

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.description for r in rows] == ["10 ACME", "Savings", "Allowance", "Starting cash"]
    assert [r.balance_after for r in rows] == [
        D("9300.00"),
        D("10300.00"),
        D("10500.00"),
        D("10000.00"),
    ]
    page = text(response)
    assert "Bob&#x27;s secret" not in page
    assert "−$1,000.00" in page and "+$500.00" in page and "$9,300.00" in page


def test_other_students_see_only_their_own_journal(other_client, student):
    deposit(user=student, amount=D("123.45"), description="Alice only")
    response = other_client.get(JOURNAL)
    assert "Alice only" not in text(response)
    assert all(r.user_id != student.pk for r in response.context["rows"])
    rows = csv_rows(other_client.get(JOURNAL, {"format": "csv"}))
    assert all("Alice only" not in row for row in rows)


def test_a_new_journal_with_no_matches_says_so(student_client):
    response = student_client.get(JOURNAL, {"type": "sell"})
    assert response.status_code == 200
    assert "No cash movements match these filters." in text(response)


def test_the_journal_shows_the_statistics_panel(student_client, student):
    deposit(user=student, amount=D("500.00"))
    withdraw(user=student, amount=D("200.00"))
    debit(user=student, type="buy", amount=D("1000.00"), symbol="ACME")
    debit(user=student, type="fee", amount=D("4.95"), symbol="ACME")
    credit(user=student, type="sell", amount=D("400.00"), symbol="ACME")

    page = text(student_client.get(JOURNAL))

    assert 'id="stat-deposited">$10,500.00' in page
    assert 'id="stat-withdrawn">$200.00' in page
    assert 'id="stat-net">$10,300.00' in page
    assert 'id="stat-bought">$1,000.00' in page and "1 buy<" in page
    assert 'id="stat-sold">$400.00' in page and "1 sale<" in page
    assert 'id="stat-fees">$4.95' in page
    assert "all time" in page


def test_the_journal_is_paginated_by_25_and_the_links_keep_the_filters(student_client, student):
    add_rows(student, 60)

    first = student_client.get(JOURNAL, {"type": "deposit"})
    assert len(first.context["rows"]) == 25
    assert first.context["page_obj"].paginator.num_pages == 3  # 61 rows with the opening one
    assert "?type=deposit&amp;page=2" in text(first)
    assert "1–25 of 61 rows" in text(first)

    last = student_client.get(JOURNAL, {"type": "deposit", "page": "3"})
    assert [r.description for r in last.context["rows"]][-1] == "Starting cash"
    assert len(last.context["rows"]) == 11

    for junk in ("999", "abc", "-1"):
        assert student_client.get(JOURNAL, {"page": junk}).status_code == 200


def test_the_journal_filters_by_type_dates_and_symbol(student_client, student, settings):
    settings.TIME_ZONE = "America/New_York"
    ny = zoneinfo.ZoneInfo("America/New_York")
    Transaction.objects.filter(user=student).update(timestamp=datetime(2026, 1, 1, tzinfo=ny))
    TransactionFactory(
        user=student,
        type="buy",
        symbol="ACME",
        description="acme late evening",
        timestamp=datetime(2026, 3, 14, 23, 30, tzinfo=ny),
    )
    TransactionFactory(
        user=student,
        type="buy",
        symbol="BOLT",
        description="bolt",
        timestamp=datetime(2026, 3, 14, 12, 0, tzinfo=ny),
    )
    TransactionFactory(
        user=student,
        type="sell",
        symbol="ACME",
        description="acme next day",
        timestamp=datetime(2026, 3, 15, 0, 0, tzinfo=ny),
    )

    def shown(**params):
        response = student_client.get(JOURNAL, params)
        assert response.status_code == 200
        return [r.description for r in response.context["rows"]]

    assert shown(start="2026-03-14", end="2026-03-14") == ["acme late evening", "bolt"]
    assert shown(symbol="acme") == ["acme next day", "acme late evening"]
    assert shown(type="buy", symbol="ACME") == ["acme late evening"]
    assert shown(end="2026-01-01") == ["Starting cash"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "bogus"}, "Pick a type from the list"),
        ({"start": "14/03/2026"}, "Enter the start date as YYYY-MM-DD"),
        ({"end": "9999-12-31"}, "Pick a date between 1900 and 2999"),
        ({"start": "2026-03-15", "end": "2026-03-14"}, "The start date is after the end date"),
        ({"symbol": "A B"}, "letters and digits"),
        ({"format": "xml"}, "The only export format is CSV"),
    ],
)
def test_bad_filters_get_400_with_the_message_and_the_values_kept(student_client, params, message):
    response = student_client.get(JOURNAL, params)

    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert "Fix the filters above" in page
    assert "rows" not in response.context


def test_bad_filters_keep_the_typed_values_in_the_form(student_client):
    page = text(student_client.get(JOURNAL, {"start": "not-a-date", "symbol": "acme"}))
    assert 'value="not-a-date"' in page
    assert 'value="acme"' in page


def test_bad_filters_on_the_csv_export_get_400_not_a_file(student_client):
    response = student_client.get(JOURNAL, {"format": "csv", "type": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# CSV -----------------------------------------------------------------------------------


def test_csv_exports_the_journal_with_signed_amounts(student_client, student, settings):
    settings.TIME_ZONE = "America/New_York"
    deposit(user=student, amount=D("500.00"), description="Allowance")
    debit(user=student, type="buy", amount=D("1000.00"), symbol="ACME", description="10 ACME")
    Transaction.objects.filter(user=student).update(
        timestamp=datetime(2026, 3, 14, 23, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))
    )

    response = student_client.get(JOURNAL, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="tradesim-cash-{student.username}-{today}.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == [
        "Date and time (America/New_York)",
        "Type",
        "Symbol",
        "Description",
        "Amount",
        "Balance after",
        "ID",
    ]
    ids = list(
        Transaction.objects.filter(user=student).order_by("-id").values_list("id", flat=True)
    )
    assert rows[1:] == [
        ["2026-03-14 19:30:00", "Buy", "ACME", "10 ACME", "-1000.00", "9500.00", str(ids[0])],
        ["2026-03-14 19:30:00", "Deposit", "", "Allowance", "500.00", "10500.00", str(ids[1])],
        [
            "2026-03-14 19:30:00",
            "Deposit",
            "",
            "Starting cash",
            "10000.00",
            "10000.00",
            str(ids[2]),
        ],
    ]


def test_csv_exports_exactly_the_filtered_rows(student_client, student):
    deposit(user=student, amount=D("1.00"))
    debit(user=student, type="buy", amount=D("10.00"), symbol="ACME")
    debit(user=student, type="buy", amount=D("20.00"), symbol="BOLT")
    debit(user=student, type="fee", amount=D("1.00"), symbol="ACME")

    by_symbol = csv_rows(student_client.get(JOURNAL, {"format": "csv", "symbol": "ACME"}))
    by_type = csv_rows(student_client.get(JOURNAL, {"format": "csv", "type": "buy"}))
    both = csv_rows(student_client.get(JOURNAL, {"format": "csv", "type": "buy", "symbol": "BOLT"}))

    assert [(r[1], r[2], r[4]) for r in by_symbol[1:]] == [
        ("Commission", "ACME", "-1.00"),
        ("Buy", "ACME", "-10.00"),
    ]
    assert [r[2] for r in by_type[1:]] == ["BOLT", "ACME"]
    assert [r[4] for r in both[1:]] == ["-20.00"]


def test_csv_streams_every_row_across_many_chunks(student_client, student, monkeypatch):
    monkeypatch.setattr(views, "CSV_CHUNK_SIZE", 7)
    add_rows(student, 50)

    response = student_client.get(JOURNAL, {"format": "csv"})

    rows = csv_rows(response)
    assert len(rows) == 1 + 51
    assert [r[3] for r in rows[1:4]] == ["row 49", "row 48", "row 47"]
    assert rows[-1][3] == "Starting cash"


def test_csv_reads_the_rows_with_a_chunked_iterator(student_client, monkeypatch):
    """The export must not load the whole journal into memory: it iterates in chunks."""
    real_iterator = QuerySet.iterator
    chunk_sizes = []

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return real_iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    response = student_client.get(JOURNAL, {"format": "csv"})
    assert chunk_sizes == []  # nothing is read until the response is sent
    csv_rows(response)
    assert chunk_sizes == [views.CSV_CHUNK_SIZE]


def test_csv_defuses_descriptions_a_spreadsheet_would_run(student_client, student):
    deposit(user=student, amount=D("1.00"), description='=HYPERLINK("http://evil")')
    deposit(user=student, amount=D("1.00"), description="@SUM(A1)")

    rows = csv_rows(student_client.get(JOURNAL, {"format": "csv"}))

    assert rows[1][3] == "'@SUM(A1)"
    assert rows[2][3] == '\'=HYPERLINK("http://evil")'


# query counts --------------------------------------------------------------------------


def journal_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(JOURNAL, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_journal_runs_the_same_queries_for_10_and_1000_rows(
    student_client, student, django_assert_max_num_queries
):
    add_rows(student, 9)
    small = journal_queries(student_client)
    small_filtered = journal_queries(student_client, type="deposit", start="2000-01-01")

    add_rows(student, 990)
    assert Transaction.objects.filter(user=student).count() == 1000
    with django_assert_max_num_queries(small):
        student_client.get(JOURNAL, {"page": "7"})
    assert journal_queries(student_client) == small
    assert journal_queries(student_client, type="deposit", start="2000-01-01") == small_filtered
    assert small <= 6  # session, user, balance, count, page, statistics


def test_the_deposit_and_withdraw_pages_run_a_fixed_number_of_queries(
    student_client, student, settings
):
    settings.MAX_TOTAL_DEPOSITS = D("100000.00")

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert student_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = (count(DEPOSIT), count(WITHDRAW))
    add_rows(student, 300)
    assert (count(DEPOSIT), count(WITHDRAW)) == before
