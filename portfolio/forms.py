"""The leaderboard's class picker, read from the query string."""

from django import forms

from tradesim.forms import Form


class LeaderboardFilterForm(Form):
    """?class=<id>: which of the viewer's classes to rank. The choices are the classes the
    view found for the viewer (no query here); a superuser may also pick every student."""

    def __init__(self, *args, classes=(), everyone=False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "All students")] if everyone else []
        choices += [(str(c.pk), c.name) for c in classes]
        # "class" is the public query parameter, and a Python keyword: declared here.
        self.fields["class"] = forms.ChoiceField(
            choices=choices,
            required=False,
            label="Class",
            widget=forms.Select(attrs={"class": "form-select"}),
        )
