"""The leaderboard's filter, read from the query string."""

from django import forms
from django.contrib.auth import get_user_model

from tradesim.forms import Form


def classroom_model():
    """The class model, reached through the user model (apps don't import accounts)."""
    return get_user_model()._meta.get_field("classroom").related_model


class LeaderboardFilterForm(Form):
    """?class=<id>: rank only the students of one class. Optional."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "class" is the public query parameter, and a Python keyword: declared here.
        self.fields["class"] = forms.ModelChoiceField(
            queryset=classroom_model().objects.order_by("name"),
            required=False,
            label="Class",
            empty_label="All classes",
            error_messages={"invalid_choice": "Choose a class from the list."},
            widget=forms.Select(attrs={"class": "form-select"}),
        )

    @property
    def classroom(self):
        return self.cleaned_data.get("class") if self.is_valid() else None
