"""The floors under a buy, served by gunicorn in place of TradeSim for `bench/load.py --floor`.

- `wsgi`: a bare WSGI application that answers every order with the 302 a buy answers and
  every page with a short 200. What is left is what gunicorn (its HTTP parser, its threads,
  the sockets) and the load client cost on this machine: no Python web framework can go
  faster than this.
- `django`: TradeSim's own settings and middleware — the session from Redis, the user from
  PostgreSQL, CSRF, messages, security headers — in front of a view that answers an order
  with the same 302 without placing it. What is left is what Django's request stack costs.

A buy through TradeSim costs these plus the order form and the trade itself.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradesim.settings")


def wsgi(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    if environ["REQUEST_METHOD"] == "POST":
        start_response("302 Found", [("Location", "/prices/"), ("Content-Length", "0")])
        return [b""]
    body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [body]


def _django():
    import django
    from django.conf import settings

    django.setup(set_prefix=False)

    from django.contrib.auth.decorators import login_required
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpResponse
    from django.shortcuts import redirect
    from django.urls import path
    from django.views.decorators.http import require_POST

    @login_required
    @require_POST
    def order(request):
        return redirect("/prices/")

    def healthz(request):
        return HttpResponse("ok", content_type="text/plain")

    global urlpatterns
    urlpatterns = [
        path("trading/buy/", order),
        path("trading/sell/", order),
        path("healthz", healthz),
    ]
    settings.ROOT_URLCONF = __name__
    return WSGIHandler()


urlpatterns = []
django = _django() if os.environ.get("BENCH_FLOOR") == "django" else None
