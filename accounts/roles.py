"""The Instructors group: exactly the permissions an instructor needs, kept in one place."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

INSTRUCTORS = "Instructors"

# (app_label, codename). Views of everything about money; changes only to the market's
# parameters, market events and classes. Journal and trade rows have no change
# permission here: they are read-only for everybody in the admin.
INSTRUCTOR_PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "change_user"),
    ("accounts", "view_classroom"),
    ("accounts", "add_classroom"),
    ("accounts", "change_classroom"),
    ("accounts", "delete_classroom"),
    ("ledger", "view_balance"),
    ("ledger", "view_transaction"),
    ("ledger", "grant_cash"),
    ("portfolio", "view_holding"),
    ("portfolio", "reset_student"),
    ("trading", "view_trade"),
    ("prices", "view_price"),
    ("prices", "change_price"),
    ("prices", "view_pricehistory"),
    ("prices", "view_marketevent"),
    ("prices", "add_marketevent"),
    ("tradesim", "view_auditentry"),
]


def ensure_instructor_group() -> Group:
    """Create the Instructors group if needed and set its permissions to exactly the list."""
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS)
    query = Q(pk__in=[])
    for app_label, codename in INSTRUCTOR_PERMISSIONS:
        query |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.set(Permission.objects.filter(query))
    return group
