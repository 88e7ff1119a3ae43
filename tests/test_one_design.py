"""One design: Buy and Sell, cash movements and the account forms look the same on every
page (the template tags in tradesim.templatetags.money, tradesim.forms.BootstrapFormMixin)."""

from decimal import Decimal

import pytest

from accounts.forms import LoginForm, PasswordChangeForm, ProfileForm, RegistrationForm
from ledger.models import Transaction
from tradesim.templatetags.money import cash_amount, cash_badge, side_badge


def test_buy_and_sell_are_words_in_one_badge_each():
    assert side_badge("buy") == '<span class="badge side-badge side-buy">Buy</span>'
    assert side_badge("SELL") == '<span class="badge side-badge side-sell">Sell</span>'
    assert side_badge("buy", 1200, "ACME").endswith("</span> 1,200 ACME")


def test_a_journal_row_of_a_trade_wears_the_trades_badge_and_a_signed_amount():
    sold = Transaction(type="sell", amount=Decimal("562.70"))
    bought = Transaction(type="buy", amount=Decimal("1234.50"))
    deposit = Transaction(type="deposit", amount=Decimal("100"))
    assert cash_badge(sold) == side_badge("sell")
    assert cash_badge(bought) == side_badge("buy")
    assert cash_badge(deposit) == '<span class="badge text-bg-secondary">Deposit</span>'
    assert cash_amount(sold) == '<span class="pnl pnl-up">+$562.70</span>'
    assert cash_amount(bought) == '<span class="pnl pnl-down">\u2212$1,234.50</span>'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form_class", [RegistrationForm, LoginForm, ProfileForm, PasswordChangeForm]
)
def test_the_account_forms_have_the_sites_inputs_and_mark_their_errors(form_class, student):
    args = (student,) if form_class is PasswordChangeForm else ()
    kwargs = {"instance": student} if form_class is ProfileForm else {}
    form = form_class(*args, data={}, **kwargs)
    for field in form.visible_fields():
        css = field.field.widget.attrs["class"].split()
        assert {"form-control", "form-select", "form-check-input"} & set(css), field.name
    form.is_valid()
    for name in form.errors:
        if name in form.fields:
            assert "is-invalid" in form.fields[name].widget.attrs["class"].split(), name
    assert len(form.errors) > 0 or form_class is ProfileForm
