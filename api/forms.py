"""The tokens page's form: a name and the one-time token. The name's rules (not empty, at
most 50 characters) are api.services.clean_name's, so the page and POST /api/v1/auth/token
say the same thing."""

from django import forms

from api.services import MAX_NAME_LENGTH
from tradesim.forms import BootstrapFormMixin, Form, OneTimeTokenField


class NewTokenForm(BootstrapFormMixin, Form):
    name = forms.CharField(
        label="Name",
        required=False,
        strip=False,
        help_text="What the token is for, such as “momentum bot” or “class notebook”: "
        "you see it in the list below.",
        widget=forms.TextInput(
            attrs={"maxlength": MAX_NAME_LENGTH, "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    token = OneTimeTokenField()
