"""What every page shows of the student's trading: their margin call."""

from functools import cache

from trading.selectors import margin_call_notice


def margin_call(request):
    """The logged-in student's margin call, for the banner on every page (base.html): one
    query, and only when a template shows it (a template calls the callable; it runs
    once), so the API, the admin and page fragments pay nothing; none at all for an
    anonymous visitor, an instructor, or a student in no class (margin is a class's rule).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff or user.classroom_id is None:
        return {}
    user_id = user.pk

    @cache
    def notice():
        return margin_call_notice(user_id)

    return {"margin_call": notice}
