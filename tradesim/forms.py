"""Form pieces shared by the apps' forms."""

import uuid
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

# The days a filter may name. Python's dates end at 9999-12-31, and a filter's day goes
# into date arithmetic ("the day after the end date") and a time-zone conversion, which
# overflow near either end; no class trades outside these years.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


def new_token() -> str:
    return uuid.uuid4().hex


class OneTimeTokenField(forms.CharField):
    """A hidden one-time token: the same token submitted twice (a double-click, a refresh,
    a retry) makes one effect. Services enforce it with a unique (user, token) constraint.
    A bound form that is re-rendered after a rejection keeps its token, since nothing was
    recorded under it."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("initial", new_token)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return value or None


class DayField(forms.DateField):
    """A day written YYYY-MM-DD, from FIRST_DAY to LAST_DAY."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    default_error_messages = {
        "out_of_range": f"Pick a date between {FIRST_DAY:%Y} and {LAST_DAY:%Y}.",
    }

    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")


class StrictFormMixin:
    """What every form here adds to Django's:

    - a field sent more than once (amount=1&amount=2) is refused, not read as its last
      value: which one was meant is anybody's guess. Fields that take several values (a
      multiple choice) may repeat;
    - an error on a hidden field (the one-time token, the page to return to), which no
      template shows, is told above the form as well."""

    repeated_message = "This field was sent {times}; send it once."
    hidden_error_message = (
        "Part of this form was changed or has expired: reload the page and try again."
    )

    # Before the form's clean(), which must not act on a repeated field (a log-in form
    # authenticates there).
    def _clean_fields(self):
        super()._clean_fields()
        if hasattr(self.data, "getlist"):
            for name, field in self.fields.items():
                if field.disabled or _takes_several_values(field):
                    continue
                count = max(len(self.data.getlist(key)) for key in sent_names(self[name]))
                if count > 1:
                    times = "twice" if count == 2 else f"{count} times"
                    message = self.repeated_message.format(times=times)
                    self.add_error(name, ValidationError(message, code="repeated"))
        if any(self.errors.get(bound.name) for bound in self.hidden_fields()):
            self.add_error(None, ValidationError(self.hidden_error_message, code="hidden"))


def _takes_several_values(field) -> bool:
    widget = getattr(field.widget, "widget", field.widget)  # the admin wraps some widgets
    return (
        isinstance(field, (forms.MultipleChoiceField, forms.ModelMultipleChoiceField))
        or getattr(widget, "allow_multiple_selected", False)
        or isinstance(widget, forms.MultipleHiddenInput)
    )


def sent_names(bound) -> list[str]:
    """The names a field's value arrives under: one, or one per part of a split widget
    (a date and a time)."""
    widget = bound.field.widget
    if isinstance(widget, forms.MultiWidget):
        return [bound.html_name + suffix for suffix in widget.widgets_names]
    return [bound.html_name]


class UsernameLengthMixin:
    """For Django's log-in form, which sets its username field's max_length after the
    field is made, without the validator that would enforce it: a username of thousands
    of characters went on to authenticate() and into django-axes' record of the failure,
    a column of 255 that PostgreSQL refused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class BootstrapFormMixin:
    """The site's look on a form's widgets: Bootstrap's classes on every visible one
    (form-control, form-select, form-check-input), and `is-invalid` on the fields that
    have errors, so the account forms look and fail like the trading and cash forms."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_widgets()

    def style_widgets(self) -> None:
        """Give every visible widget its Bootstrap class (again, after one was replaced)."""
        for field in self.fields.values():
            widget = field.widget
            if widget.is_hidden:
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "").split()
            if css not in classes:
                widget.attrs["class"] = " ".join([*classes, css])

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self._errors:
            if name in self.fields:
                widget = self.fields[name].widget
                classes = widget.attrs.get("class", "").split()
                if "is-invalid" not in classes:
                    widget.attrs["class"] = " ".join([*classes, "is-invalid"])


class Form(StrictFormMixin, forms.Form):
    pass


class ModelForm(StrictFormMixin, forms.ModelForm):
    pass
