"""Cash pages: the journal (with its CSV export), deposit and withdraw. Thin: a form checks
the input, one service or selector does the work, and every lookup is the logged-in user's."""

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from ledger import selectors, services
from ledger.forms import AmountForm, DepositForm, JournalFilterForm, WithdrawForm
from ledger.models import Transaction
from ledger.selectors import JournalFilters
from tradesim.exports import (
    csv_download,
    date_time_cell,
    date_time_header,
    decimal_cell,
    export_filename,
    safe_cell,
)
from tradesim.logging import form_error_codes, log_event

logger = logging.getLogger("tradesim.ledger")

PAGE_SIZE = 25
CSV_CHUNK_SIZE = 2000
CSV_HEADER = ["Type", "Symbol", "Description", "Amount", "Balance after", "ID"]


def csv_header() -> list[str]:
    return [date_time_header(), *CSV_HEADER]


# Amount-field errors: the rest are about the class's rules or the account as a whole.
_AMOUNT_ERRORS = (
    services.InvalidAmount,
    services.InsufficientFunds,
    services.DepositLimitExceeded,
)


@login_required
@require_safe
def journal(request):
    """The user's cash journal, newest first, 25 to a page, with statistics; `?format=csv`
    streams exactly the filtered rows."""
    form = JournalFilterForm(request.GET)
    export = request.GET.get("format", "")
    if export not in ("", "html", "csv"):
        form.is_valid()
        form.add_error(None, "The only export format is CSV (format=csv).")
    if not form.is_valid():
        return _render_journal(request, form, filters=None, status=400)
    filters = form.filters()
    if export == "csv":
        return _csv_response(request.user, filters)
    return _render_journal(request, form, filters=filters)


def _render_journal(request, form, *, filters: JournalFilters | None, status: int = 200):
    context: dict[str, Any] = {
        "form": form,
        "balance": selectors.balance_of(request.user),
        "filters": filters,
    }
    if filters is not None:
        page = Paginator(selectors.journal_for(request.user, filters), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context.update(
            page_obj=page,
            rows=list(page.object_list),
            stats=selectors.statistics_for(request.user, filters),
        )
    return render(request, "ledger/journal.html", context, status=status)


def _csv_response(user, filters: JournalFilters):
    credit_types = Transaction.CREDIT_TYPES
    type_names = dict(Transaction._meta.get_field("type").flatchoices)
    rows = selectors.journal_for(user, filters).values_list(
        "timestamp", "type", "symbol", "description", "amount", "balance_after", "id"
    )

    def lines():  # a generator: nothing is read until the response is sent
        for timestamp, type_, symbol, description, amount, balance_after, pk in rows.iterator(
            chunk_size=CSV_CHUNK_SIZE
        ):
            yield [
                date_time_cell(timestamp),
                type_names.get(type_, type_),
                safe_cell(symbol),
                safe_cell(description),
                decimal_cell(amount if type_ in credit_types else -amount),
                decimal_cell(balance_after),
                pk,
            ]

    filename = export_filename("cash", user.get_username())
    return csv_download(lines(), header=csv_header(), filename=filename)


@dataclass(frozen=True)
class _Movement:
    form_class: type[AmountForm]
    service: Any
    template: str
    verb: str  # for the flash message: "Deposited $250.00."


_DEPOSIT = _Movement(DepositForm, services.deposit, "ledger/deposit.html", "Deposited")
_WITHDRAW = _Movement(WithdrawForm, services.withdraw, "ledger/withdraw.html", "Withdrew")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def deposit(request):
    """Add simulated cash. POST amount (+ description, token) → redirect to the journal."""
    return _movement_page(request, _DEPOSIT)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def withdraw(request):
    """Take simulated cash out. POST amount (+ description, token) → redirect to the journal."""
    return _movement_page(request, _WITHDRAW)


def _log_refusal(request, movement: _Movement, form, refusal=None, *, result="rejected"):
    """One line per refused movement (result=rejected) or repeated one (result=duplicate):
    who, what, why. A form error is logged by its codes, never with what was typed."""
    log_event(
        logger,
        "cash.rejected",
        user=request.user.get_username(),
        action=movement.service.__name__,
        amount=form.cleaned_data.get("amount"),
        result=result,
        reason=type(refusal).__name__ if refusal is not None else "invalid_input",
        rule=getattr(refusal, "rule", None) or None,
        errors=None if refusal is not None else form_error_codes(form),
        message=refusal.message if refusal is not None else None,
    )


def _movement_page(request, movement: _Movement):
    status = 200
    if request.method == "POST":
        form = movement.form_class(request.POST)
        if form.is_valid():
            try:
                row = movement.service(
                    user=request.user,
                    amount=form.cleaned_data["amount"],
                    description=form.cleaned_data["description"],
                    token=form.cleaned_data["token"],
                )
            except services.DuplicateRequest as repeat:
                # The first submission went through; this one is its echo, not an error.
                _log_refusal(request, movement, form, repeat, result="duplicate")
                balance = "" if repeat.balance is None else f" Balance: ${repeat.balance:,.2f}."
                messages.info(request, f"{repeat.message}{balance}")
                return redirect("ledger:journal")
            except services.LedgerError as refusal:
                _log_refusal(request, movement, form, refusal)
                field = "amount" if isinstance(refusal, _AMOUNT_ERRORS) else None
                form.add_error(field, refusal.message)
            else:
                messages.success(
                    request,
                    f"{movement.verb} ${row.amount:,.2f}. "
                    f"Your balance is now ${row.balance_after:,.2f}.",
                )
                return redirect("ledger:journal")
        else:
            _log_refusal(request, movement, form)
        status = 400
    else:
        form = movement.form_class()
    context = {"form": form, "balance": selectors.balance_of(request.user)}
    if movement is _DEPOSIT:
        context["allowance"] = selectors.deposit_allowance_for(request.user)
    else:
        context["closed"] = selectors.withdrawals_closed_for(request.user)
    return render(request, movement.template, context, status=status)
