"""Browser tests: Playwright for Python driving Debian's Chromium (/usr/bin/chromium)
against pytest-django's live server. They skip, with the reason, where either is missing
(`.ci/run` installs the chromium package when it can).

Every page a test opens is watched: a console error, an uncaught script error, a
Content-Security-Policy violation or a static file that fails to load fails the test.
Screenshots go to test-artifacts/screenshots/<name>.png (git-ignored).
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Reports every CSP violation to the test (an init script runs before the page's own
# scripts and is not subject to the page's policy).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCsp(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "needs Playwright for Python (pip install -r requirements-test.txt)"
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def page_url(page) -> str:
    try:
        return page.url
    except Exception:
        return "?"


class Watched:
    """A Playwright page plus what went wrong on it."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.expose_function("__reportCsp", lambda text: self.problems.append(f"CSP: {text}"))
        page.add_init_script(CSP_LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.problems.append(f"console error at {where or page_url(self.page)}: {message.text}")

    def _request_failed(self, request):
        # ERR_ABORTED is the browser cancelling a request it no longer needs (the page
        # moved on, say, while its icon loaded); a file that is missing answers 404, which
        # _response reports.
        if request.resource_type != "document" and "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"failed to load {request.url}: {request.failure}")

    def _response(self, response):
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def goto(self, path: str):
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str) -> Path:
        """A full-page screenshot, after the page settled (fonts, charts drawn)."""
        self.page.wait_for_load_state("networkidle")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_styled(self):
        """Bootstrap and our CSS loaded: the navbar is dark and Bootstrap's JS is there."""
        background = self.page.evaluate(
            "getComputedStyle(document.querySelector('nav.navbar')).backgroundColor"
        )
        assert background == "rgb(33, 37, 41)", background
        assert self.page.evaluate("typeof window.bootstrap") == "object"

    def assert_clean(self):
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture
def browser_page(live_server, settings, monkeypatch):
    """A fresh Chromium page on the live server, watched for errors (checked at the end)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The live server speaks plain HTTP: no HTTPS redirect, no secure-only cookies, and
    # static files without a collectstatic manifest.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Playwright's sync API runs an event loop in this thread; the test itself only sets
    # up and reads the database between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            watched = Watched(context.new_page(), live_server.url)
            yield watched
            watched.assert_clean()
        finally:
            browser.close()
            # Database work the test did while Playwright's loop ran used a connection of
            # that context, which nothing else closes (PostgreSQL would then refuse to drop
            # the test database while it is open).
            connections.close_all()
