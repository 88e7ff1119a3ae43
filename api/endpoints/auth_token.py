"""POST /api/v1/auth/token: log in from a script and get a new token."""

from django.conf import settings
from django.contrib.auth import authenticate
from ninja import Router, Status

from accounts.lockout import clear_failures
from api import services
from api.problems import Problem
from api.schemas import TokenIn, TokenOut

router = Router(tags=["Authentication"])


@router.post(
    "/auth/token",
    auth=None,
    response={201: TokenOut},
    summary="Log in and get a new token",
    description="Checks the username and password as the log-in page does, with the same "
    "lock after repeated failures (429 login_locked), and makes a new named token, shown "
    "once. The token is listed, and can be revoked, on the API tokens page of the account.",
)
def create_token(request, payload: TokenIn):
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        # The API answers the lock itself, as a problem document: axes' middleware would
        # put the log-in page's HTML in its place.
        request.axes_locked_out = False
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        raise Problem(
            "login_locked",
            f"Too many failed log-ins: wait {minutes} minutes, or ask your instructor to "
            "unlock your account.",
            headers={"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))},
        )
    if user is None:
        raise Problem("invalid_credentials", "The username or the password is wrong.")
    # As a log-in on the form: the failures counted against it are forgotten, so a typo
    # after a script's log-in does not lock the student out.
    clear_failures(request, user.get_username())
    classroom = services.closed_class(user)
    if classroom is not None:
        raise Problem("api_disabled", services.disabled_message(classroom))
    try:
        made = services.create_token(user=user, name=payload.name)
    except services.TokenError as error:
        raise Problem("validation_error", error.message, field=error.field or None) from None
    return Status(
        201,
        {
            "token": made.secret,
            "id": made.token.pk,
            "name": made.token.name,
            "created_at": made.token.created_at,
        },
    )
