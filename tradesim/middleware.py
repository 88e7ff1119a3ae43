from django.conf import settings
from django.shortcuts import render
from django.utils.cache import patch_cache_control


class ContentSecurityPolicyMiddleware:
    """Send the Content-Security-Policy header: scripts only from our own static files,
    so an injected <script> or onclick= never runs. Data for scripts travels in
    json_script blocks, which are not executed."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = "; ".join(
            f"{directive} {' '.join(sources)}".strip()
            for directive, sources in settings.CONTENT_SECURITY_POLICY.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.header)
        return response


class NoStoreWhenLoggedInMiddleware:
    """Every page a logged-in user gets is sent with `Cache-Control: no-store`: on a shared
    classroom computer, the next student must not find the last one's cash, holdings or
    journal in the browser's cache or behind its Back button."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


class RejectNulCharactersMiddleware:
    """Answer 400, with a message, a request whose address, query string or form fields
    hold a NUL character (U+0000). No page here takes one, and PostgreSQL refuses any text
    that contains it, so one that reached a query (a search box, a filter, an admin choice
    keyed by a symbol) would fail there. Last in the chain, so the response still gets the
    security headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _holds_nul(request):
            message = (
                "The address or the form holds a NUL character (%00), which no page here "
                "accepts. Remove it and try again."
            )
            return render(request, "400.html", {"message": message}, status=400)
        return self.get_response(request)


def _holds_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    sent = [request.GET]
    if request.method == "POST":
        sent.append(request.POST)  # empty unless the body is a form
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for data in sent
        for key, values in data.lists()
    )


class AdminChangeListGuardMiddleware:
    """Check an admin changelist's filters and picked rows before the list is built
    (tradesim.admin.check_changelist_input), answering a 400 with the reason. Middleware,
    not a ModelAdmin mixin, so that every changelist is covered, Django's own and django-
    axes' included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        model_admin = getattr(view_func, "model_admin", None)
        url_name = request.resolver_match.url_name or ""
        if model_admin is None or not url_name.endswith("_changelist"):
            return None
        site = model_admin.admin_site
        if not site.has_permission(request) or not model_admin.has_view_or_change_permission(
            request
        ):
            return None  # the admin sends them to log in, or refuses them
        from tradesim.admin import BadChangeListInput, check_changelist_input

        try:
            check_changelist_input(model_admin, request)
        except BadChangeListInput as refusal:
            request.current_app = site.name
            context = {
                **site.each_context(request),
                "title": "This filter cannot be used",
                "opts": model_admin.opts,
                "message": refusal.message,
                "list_url": request.path,
            }
            return render(request, "admin/bad_filter.html", context, status=400)
        return None
