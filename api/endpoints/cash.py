"""Deposits and withdrawals, under the class's rules, as on the cash pages."""

from django.http import HttpResponse
from ninja import Router, Status

from api import idempotency
from api.auth import student
from api.problems import from_form, from_refusal
from api.schemas import CashIn, CashMovementOut
from ledger import services as ledger
from ledger.forms import DepositForm, WithdrawForm
from ledger.models import Transaction

router = Router(tags=["Cash"])


def movement_out(row: Transaction) -> dict:
    sign = 1 if row.type in Transaction.CREDIT_TYPES else -1
    return {
        "id": row.pk,
        "type": row.type,
        "amount": sign * row.amount,
        "balance_after": row.balance_after,
        "description": row.description,
        "timestamp": row.timestamp,
    }


def _move(request, payload: CashIn, response: HttpResponse, *, form_class, move, kind: str):
    user = student(request)
    token = idempotency.token_of(request)
    form = form_class({"amount": payload.amount, "description": payload.description})
    if not form.is_valid():
        raise from_form(
            form, code="invalid_amount" if "amount" in form.errors else "validation_error"
        )
    data = form.cleaned_data
    if token and idempotency.used_for_an_order(user, token):
        raise idempotency.reused()
    try:
        row = move(user=user, amount=data["amount"], description=data["description"], token=token)
    except ledger.DuplicateRequest as error:
        original = error.original
        if original is None or original.type != kind or original.amount != data["amount"]:
            raise idempotency.reused() from None
        idempotency.replayed(response)
        return Status(200, movement_out(original))
    except ledger.LedgerError as error:
        raise from_refusal(error) from None
    return Status(201, movement_out(row))


@router.post(
    "/deposits",
    response={201: CashMovementOut, 200: CashMovementOut},
    summary="Deposit simulated cash",
    description="Under your class's rules (deposits open, the cap on deposits). With an "
    "Idempotency-Key, a retry answers 200 with the first deposit.",
)
def create_deposit(request, payload: CashIn, response: HttpResponse):
    return _move(
        request,
        payload,
        response,
        form_class=DepositForm,
        move=ledger.deposit,
        kind=Transaction.Type.DEPOSIT,
    )


@router.post(
    "/withdrawals",
    response={201: CashMovementOut, 200: CashMovementOut},
    summary="Withdraw simulated cash",
    description="At most your free cash (what open orders do not hold), under your class's rules.",
)
def create_withdrawal(request, payload: CashIn, response: HttpResponse):
    return _move(
        request,
        payload,
        response,
        form_class=WithdrawForm,
        move=ledger.withdraw,
        kind=Transaction.Type.WITHDRAWAL,
    )
