"""Every answer under /api/ is JSON, and never cached."""

from django.utils.cache import patch_cache_control

from api.problems import PROBLEM_JSON, Problem, problem_response

_CODES = {400: "validation_error", 404: "not_found", 405: "method_not_allowed"}
_DETAILS = {
    400: "The request could not be read (it may hold a NUL character, %00).",
    405: "This address does not take this method.",
}


class ApiResponseMiddleware:
    """Under /api/: an error some layer answered in HTML (Django's 404, a 405, the NUL
    check's 400) becomes a problem document, and every answer gets Cache-Control: no-store
    (account data must not stay in a proxy or a browser cache)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/"):
            return response
        kind = response.get("Content-Type", "")
        if response.status_code in _CODES and not kind.startswith(
            ("application/json", PROBLEM_JSON)
        ):
            allow = response.get("Allow")
            code = _CODES[response.status_code]
            response = problem_response(
                request, Problem(code, _DETAILS.get(response.status_code, ""))
            )
            if allow:
                response["Allow"] = allow
        patch_cache_control(response, no_store=True, private=True)
        return response
