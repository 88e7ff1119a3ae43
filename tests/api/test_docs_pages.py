"""The pages about the API: the reference, the list of error codes and the guide. Public
HTML, resolved before the API's own URLs and its catch-all."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import resolve

from api import views
from api.problems import CODES, Code
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db

SWAGGER = "vendor/swagger-ui-dist-5.35.0"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/docs", "api_reference"),
        ("/api/v1/errors", "api_errors"),
        ("/api/v1/guide", "api_guide"),
        ("/api/v1/openapi.json", "openapi-json"),
        ("/api/v1/no-such-thing", "not_found"),
    ],
)
def test_the_pages_resolve_before_the_api_and_its_catch_all(path, name):
    assert resolve(path).url_name == name


def test_the_reference_runs_swagger_ui_from_vendored_files_over_the_openapi_document(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-openapi-url="/api/v1/openapi.json"' in page
    assert f"/static/{SWAGGER}/swagger-ui-bundle.js" in page
    assert f"/static/{SWAGGER}/swagger-ui.css" in page
    assert "/static/js/api-reference.js" in page
    # Scripts come from files only (the Content-Security-Policy runs no inline script).
    assert re.findall(r"<script(?![^>]*\ssrc=)", page) == []


def test_the_reference_links_the_token_page_the_guide_the_codes_and_the_document(client):
    page = client.get("/api/v1/docs").content.decode()
    for href in (
        "/accounts/api-tokens/",
        "/api/v1/guide",
        "/api/v1/errors",
        "/api/v1/openapi.json",
    ):
        assert f'href="{href}"' in page, href


def test_swagger_ui_is_vendored_with_its_license():
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui.css.map", "LICENSE"):
        assert finders.find(f"{SWAGGER}/{name}"), name
    assert finders.find("js/api-reference.js")
    assert finders.find("css/api-docs.css")


def test_the_error_list_has_a_row_for_every_code_with_its_status_title_and_meaning(client):
    response = client.get("/api/v1/errors")
    assert response.status_code == 200
    page = response.content.decode()
    rows = dict(re.findall(r'<tr id="([a-z_]+)">(.*?)</tr>', page, re.S))
    assert sorted(rows) == sorted(CODES)
    for code, entry in CODES.items():
        row = rows[code]
        assert f"<code>{code}</code>" in row
        assert f">{entry.status}</td>" in row
        assert entry.title.replace("'", "&#x27;") in row


def test_a_problem_documents_type_lands_on_its_code(client, anon_api):
    body = problem(anon_api.get("/account"), 401, "not_authenticated")
    address, _, anchor = body["type"].partition("#")
    page = client.get(address).content.decode()
    assert f'id="{anchor}"' in page


def test_a_meaning_shows_backquoted_words_as_code_and_escapes_the_rest(client, monkeypatch):
    monkeypatch.setitem(CODES, "made_up", Code(400, "Made up", "Send `a<b>` & <i>not</i> this."))
    page = client.get("/api/v1/errors").content.decode()
    assert "Send <code>a&lt;b&gt;</code> &amp; &lt;i&gt;not&lt;/i&gt; this." in page


def test_the_guide_is_docs_api_md_as_plain_text(client):
    response = client.get("/api/v1/guide")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == views.GUIDE.read_text(encoding="utf-8")
    assert "Authorization: Bearer" in response.content.decode()


def test_without_the_guide_file_the_guide_is_not_found(client, monkeypatch, tmp_path):
    monkeypatch.setattr(views, "GUIDE", tmp_path / "missing.md")
    problem(client.get("/api/v1/guide"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/docs", "/api/v1/errors", "/api/v1/guide"])
def test_the_pages_take_only_get_and_head(client, path):
    assert client.head(path).status_code == 200
    problem(client.post(path), 405, "method_not_allowed")
