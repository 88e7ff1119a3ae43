"""Log-in lockouts in the admin: who may see and clear them."""

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin

from accounts.models import User

# Log-in lockouts ------------------------------------------------------------------------

admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    """axes' records of failed log-ins; deleting one unlocks that log-in (accounts.lockout).

    Instructors see, and so can delete, only the records of the students of the classes
    they own, as everywhere in the console. A staff account's lock is the superusers'
    business, like the rest of a staff account (UserAdmin.has_change_permission): clearing
    it would give whoever is guessing that password a fresh set of tries; so are usernames
    that belong to nobody, which lock no one out.
    """

    # Not axes' "Clean up expired attempts": it needs a request that went through a log-in
    # (AttributeError here), and every log-in attempt cleans up the expired ones anyway.
    actions = []

    def get_queryset(self, request):
        attempts = super().get_queryset(request)
        if request.user.is_superuser:
            return attempts
        theirs = User.objects.filter(
            is_staff=False, is_superuser=False, classroom__owners=request.user
        )
        return attempts.filter(username__in=theirs.values("username"))

