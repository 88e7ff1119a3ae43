from django.conf import settings
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
