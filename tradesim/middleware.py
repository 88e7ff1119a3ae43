from django.conf import settings
from django.shortcuts import render


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
