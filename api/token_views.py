"""The API tokens page of a person's account: list, make (shown once) and revoke their own
tokens, through api.services. Every lookup is the logged-in user's own."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from api import services
from api.forms import NewTokenForm
from api.models import ApiToken

# Where the new token waits, in the session, for the one page that shows it (a redirect,
# so that a double-click or a refresh never loses it nor makes a second one).
SHOWN_ONCE = "api_token_shown_once"


def closed_message(classroom) -> str:
    return (
        f"Your instructor has switched the API off for {classroom.name}, so you cannot make "
        "a token now, and programs' requests with your tokens are refused. The pages work "
        "as usual."
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def tokens(request):
    """GET lists the tokens (and, once, the one just made); POST `name` (+ token) makes
    one and redirects here, where it is shown."""
    closed = services.closed_class(request.user)
    if request.method != "POST":
        shown = request.session.pop(SHOWN_ONCE, None) if request.method == "GET" else None
        return _render(request, NewTokenForm(), closed=closed, shown=shown)
    if closed is not None:
        # The page offers no form then; a POST all the same is told why, as on the page.
        form = NewTokenForm(data={})
        form.is_valid()
        form.add_error(None, closed_message(closed))
        return _render(request, form, closed=closed, status=400)
    form = NewTokenForm(request.POST)
    if form.is_valid():
        try:
            made = services.create_token(
                user=request.user,
                name=form.cleaned_data["name"],
                form_token=form.cleaned_data["token"],
            )
        except services.DuplicateRequest as repeat:
            # The first submission made it (and this page shows it once); this one is its
            # echo, not an error.
            messages.info(request, repeat.message)
            return redirect("api_tokens:list")
        except services.TokenError as refusal:
            form.add_error(refusal.field or None, refusal.message)
        else:
            request.session[SHOWN_ONCE] = {"id": made.token.pk, "secret": made.secret}
            return redirect("api_tokens:list")
    return _render(request, form, closed=closed, status=400)


def _render(request, form, *, closed, shown=None, status=200):
    rows = list(ApiToken.objects.filter(user_id=request.user.pk))
    new = None
    if shown:
        new = next((row for row in rows if row.pk == shown.get("id")), None)
    live = sum(1 for row in rows if row.is_active)
    api_root = request.build_absolute_uri("/api/v1/")
    context = {
        "form": form,
        "tokens": rows,
        "new_token": new,
        "secret": shown.get("secret") if new is not None else None,
        "closed": closed,
        "closed_message": closed_message(closed) if closed else "",
        "live": live,
        "full": live >= services.MAX_ACTIVE_TOKENS,
        "max_tokens": services.MAX_ACTIVE_TOKENS,
        "api_root": api_root,
        "example": f'curl -H "Authorization: Bearer YOUR_TOKEN" {api_root}account',
    }
    return render(request, "api/tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request, token_id: int):
    """GET asks to confirm; POST revokes the token (api.services.revoke_token) and goes
    back to the list. Another person's token, or none, is not found (404)."""
    token = ApiToken.objects.filter(user_id=request.user.pk, pk=services.row_id(token_id)).first()
    if token is None:
        raise Http404("You have no such token.")
    if request.method == "POST":
        if token.is_active:
            services.revoke_token(token_id=token.pk, user=request.user)
            messages.success(
                request,
                f"Revoked the token “{token.name}”: programs that send it are refused from now on.",
            )
        else:
            messages.info(request, f"The token “{token.name}” was revoked already.")
        return redirect("api_tokens:list")
    if not token.is_active:
        messages.info(request, f"The token “{token.name}” was revoked already.")
        return redirect("api_tokens:list")
    return render(request, "api/revoke.html", {"token": token})
