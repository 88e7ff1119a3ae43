"""Headers every response carries, and a guard that no template runs inline script
(the Content-Security-Policy would block it in the browser)."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)


@pytest.mark.django_db
def test_pages_send_csp_without_inline_script_and_deny_framing(client):
    response = client.get("/")

    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for attrs in SCRIPT_TAG.findall(text):
            if "src=" not in attrs:
                offenders.append(f"{path.relative_to(TEMPLATES)}: <script{attrs}>")
        if INLINE_HANDLER.search(text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline on…= handler")
    assert offenders == []
