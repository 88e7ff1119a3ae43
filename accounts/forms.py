from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model

from classrooms.models import looks_like_join_code, normalize_join_code
from tradesim.forms import (
    BootstrapFormMixin,
    Form,
    ModelForm,
    StrictFormMixin,
    UsernameLengthMixin,
)

User = get_user_model()


class ClassCodeField(forms.CharField):
    """A class's join code as a student types it: any case, with spaces or hyphens;
    cleaned to the stored form. Whether a class has it is the service's question."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "class": "form-control",
                    "autocomplete": "off",
                    "autocapitalize": "characters",
                    "spellcheck": "false",
                }
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        code = normalize_join_code(value)
        if not looks_like_join_code(code):
            raise forms.ValidationError(
                "A class code has 8 letters and digits, never 0, O, 1, I or L (such as "
                "KX7M-3QPA); check yours with your teacher.",
                code="class_code_shape",
            )
        return code


class JoinClassForm(BootstrapFormMixin, Form):
    code = ClassCodeField(
        label="Class code", help_text="The 8 letters and digits your teacher gave you."
    )


class RegistrationForm(BootstrapFormMixin, StrictFormMixin, auth_forms.UserCreationForm):
    email = forms.EmailField(required=True, help_text="Used only by your instructor to reach you.")
    class_code = ClassCodeField(
        label="Class code (optional)",
        required=False,
        help_text="From your teacher, to join their class now. You can also join one later.",
    )

    class Meta(auth_forms.UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class LoginForm(
    BootstrapFormMixin, StrictFormMixin, UsernameLengthMixin, auth_forms.AuthenticationForm
):
    remember = forms.BooleanField(
        label="Keep me logged in",
        required=False,
        help_text="Leave this unticked on a shared computer: you are logged out when the "
        "browser closes.",
        widget=forms.CheckboxInput(
            attrs={"class": "form-check-input", "aria-describedby": "id_remember_help"}
        ),
    )


class PasswordChangeForm(BootstrapFormMixin, StrictFormMixin, auth_forms.PasswordChangeForm):
    pass


class ProfileForm(BootstrapFormMixin, ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class LoginCardForm(BootstrapFormMixin, Form):
    """The code on a log-in card, as typed. Whether it is one is the service's question
    (accounts.services.login_by_card), which answers every wrong code alike."""

    code = forms.CharField(
        label="Card code",
        max_length=64,
        help_text="The 16 letters and digits on your card, such as 7KQ2-M9XD-4HTP-W3CF. "
        "Capitals, spaces and dashes don't matter.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "autocorrect": "off",
                "spellcheck": "false",
                "inputmode": "text",
            }
        ),
    )
