"""The Instructors group: exactly the permissions an instructor needs, kept in one place.

The group is created by data migrations (accounts 0002, 0003, 0005, 0007 to 0011, 0013) and
kept in step by `ensure_instructor_group`, which create_instructor calls; both run
`apply_instructor_role`, written against whichever Group and Permission models it is given,
so the migration can pass its historical models. A change to INSTRUCTOR_PERMISSIONS needs a
new data migration too (tests/instructors/test_roles.py compares the migrated group with the
list).
"""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

INSTRUCTORS = "Instructors"

# (app_label, codename). Views of everything about money; changes only to students' names,
# email, class and active flag, to the market's parameters and halts, market events and
# classes; the two money actions (grant, reset) go through services that journal and audit
# them. Journal and trade rows have no change permission here: they are read-only for
# everybody in the admin.
INSTRUCTOR_PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "change_user"),
    ("classrooms", "view_classroom"),
    ("classrooms", "add_classroom"),
    ("classrooms", "change_classroom"),
    ("classrooms", "delete_classroom"),
    ("ledger", "view_balance"),
    ("ledger", "view_transaction"),
    ("ledger", "grant_cash"),
    ("portfolio", "view_holding"),
    ("trading", "view_trade"),
    ("trading", "reset_student"),
    # A student's orders: read them, and cancel an open one (audited).
    ("trading", "view_order"),
    ("trading", "cancel_order"),
    # Their students' margin calls (read-only: only the ticks open and close them).
    ("trading", "view_margincall"),
    # Students' API tokens: see them (never the token itself), and revoke one (audited).
    ("api", "view_apitoken"),
    ("api", "revoke_apitoken"),
    # Students' log-in cards for their classes: see, issue and revoke them (audited).
    ("accounts", "view_logincard"),
    ("accounts", "issue_logincard"),
    ("prices", "view_price"),
    ("prices", "change_price"),
    ("prices", "view_pricehistory"),
    ("prices", "view_marketevent"),
    ("prices", "add_marketevent"),
    # The market's news (read-only: only the ticks write it).
    ("prices", "view_headline"),
    # Stock splits: schedule one, and cancel it before it takes effect (both audited).
    ("prices", "view_split"),
    ("prices", "add_split"),
    ("tradesim", "view_auditentry"),
    # Unlocking a student locked out after failed log-ins: delete their access attempt.
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
]


def apply_instructor_role(*, group_model, permission_model, permissions=INSTRUCTOR_PERMISSIONS):
    """Create the Instructors group if needed and set its permissions to exactly
    `permissions` (INSTRUCTOR_PERMISSIONS unless a migration passes its own frozen copy).

    Raises ImproperlyConfigured naming any listed permission that does not exist (a typo
    in the list, or a model's Meta.permissions that lost an entry), rather than granting
    less than the list says."""
    group, _ = group_model.objects.get_or_create(name=INSTRUCTORS)
    query = Q(pk__in=[])
    for app_label, codename in permissions:
        query |= Q(content_type__app_label=app_label, codename=codename)
    rows = list(permission_model.objects.filter(query).select_related("content_type"))
    found = {(row.content_type.app_label, row.codename) for row in rows}
    missing = [perm for perm in permissions if perm not in found]
    if missing:
        names = ", ".join(f"{app}.{codename}" for app, codename in missing)
        raise ImproperlyConfigured(f"Instructor permissions that do not exist: {names}.")
    group.permissions.set(rows)
    return group


def ensure_instructor_group():
    """The Instructors group with exactly INSTRUCTOR_PERMISSIONS (created if needed)."""
    from django.contrib.auth.models import Group, Permission

    return apply_instructor_role(group_model=Group, permission_model=Permission)
