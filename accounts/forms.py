from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model

from ledger.forms import AmountField
from tradesim.forms import (
    Form,
    ModelForm,
    OneTimeTokenField,
    StrictFormMixin,
    UsernameLengthMixin,
)

User = get_user_model()

# "Granted by <instructor>: <reason>" fits the journal's 200-character description.
REASON_MAX_LENGTH = 150


class RegistrationForm(StrictFormMixin, auth_forms.UserCreationForm):
    email = forms.EmailField(required=True, help_text="Used only by your instructor to reach you.")

    class Meta(auth_forms.UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class LoginForm(StrictFormMixin, UsernameLengthMixin, auth_forms.AuthenticationForm):
    pass


class PasswordChangeForm(StrictFormMixin, auth_forms.PasswordChangeForm):
    pass


class ProfileForm(ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


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
