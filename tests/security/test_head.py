"""HEAD, which monitors and link checkers send, is answered as GET is, without a body."""

import pytest
from django.test import Client

from tests.security.helpers import site_urls
from tests.security.test_authorization import EXPECTED, VARIANTS, classroom

__all__ = ["classroom"]  # the fixture, shared with the authorization sweep

pytestmark = pytest.mark.django_db


def test_every_page_a_student_can_get_answers_head_alike(classroom):
    alice = Client()
    alice.force_login(classroom["alice"])
    checked = 0
    for name, path in site_urls().items():
        if EXPECTED[name]["student"] != 200:
            continue
        for variant in VARIANTS.get(name, [""]):
            url = path + variant
            get, head = alice.get(url), alice.head(url)
            assert head.status_code == get.status_code, url
            sent = b"".join(head.streaming_content) if head.streaming else head.content
            assert sent == b"", url
            checked += 1
    assert checked >= 10
