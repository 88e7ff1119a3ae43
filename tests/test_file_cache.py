"""The default file cache keeps what must last until it is read: a school's news of orders."""

from django.conf import settings
from django.core.cache.backends.filebased import FileBasedCache

from trading.services import order_news_key


def test_the_default_file_cache_keeps_a_thousand_students_order_news(tmp_path):
    cache = FileBasedCache(
        str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": settings.FILE_CACHE_MAX_ENTRIES}}
    )
    for user_id in range(1, 1001):
        cache.set(order_news_key(user_id), True, timeout=None)

    assert all(cache.get(order_news_key(user_id)) for user_id in range(1, 1001))


def test_django_alone_would_have_dropped_most_of_them(tmp_path):
    cache = FileBasedCache(str(tmp_path), {})  # Django's default: 300 entries
    for user_id in range(1, 1001):
        cache.set(order_news_key(user_id), True, timeout=None)

    assert sum(bool(cache.get(order_news_key(user_id))) for user_id in range(1, 1001)) < 1000
