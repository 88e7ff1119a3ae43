from django import forms

from ledger.forms import AmountField
from tradesim.forms import Form, OneTimeTokenField

# "Granted by <instructor>: <reason>" fits the journal's 200-character description.
REASON_MAX_LENGTH = 150


class GrantCashForm(Form):
    """An instructor's grant: how much and why (the student reads the reason in their
    journal). The amount is checked like a student's deposit; the grant itself is checked
    again by the service."""

    amount = AmountField(help_text="Dollars and cents, such as 500 or 250.50.")
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text="Shown to the student in their journal, e.g. “Prize for the best essay”.",
        error_messages={"required": "Give a reason; the student sees it in their journal."},
    )
    token = OneTimeTokenField()

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()


class ResetStudentForm(Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text="Shown to the student in their journal, e.g. “Fresh start for unit 2”.",
        error_messages={"required": "Give a reason; the student sees it in their journal."},
    )
    confirm = forms.BooleanField(
        label="Sell all of their shares and set their cash back to the starting cash",
        error_messages={"required": "Tick the box to confirm: a reset cannot be undone."},
    )
    token = OneTimeTokenField()

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()


class CardActionForm(Form):
    """A button on a class's log-in cards page: print new cards for every student, or a
    new card for one student, or revoke one student's card.

    The buttons that issue cards bring the page's token (console.card_tokens), so each of
    them issues once for a shown page: a reload of the printed sheet cannot issue its cards
    again. Revoking needs none: revoking twice changes nothing."""

    PRINT_ALL = "print_all"
    NEW_CARD = "new_card"
    REVOKE = "revoke"
    ISSUING = (PRINT_ALL, NEW_CARD)

    action = forms.ChoiceField(
        choices=[(PRINT_ALL, "Print new cards"), (NEW_CARD, "New card"), (REVOKE, "Revoke")]
    )
    student = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    token = OneTimeTokenField()

    missing_token_message = (
        "This form has expired, so no cards were printed. Press the button again on this page."
    )

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action")
        if action in (self.NEW_CARD, self.REVOKE) and not cleaned.get("student"):
            raise forms.ValidationError("Choose the student.")
        if action in self.ISSUING and "token" in cleaned and not cleaned["token"]:
            raise forms.ValidationError(self.missing_token_message, code="no_token")
        return cleaned
