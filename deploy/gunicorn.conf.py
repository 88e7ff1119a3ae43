"""gunicorn settings for TradeSim: `gunicorn -c deploy/gunicorn.conf.py tradesim.wsgi`.

bench/load.py runs the server with this file, so the figures in docs/performance.md are
for exactly this configuration. Each server is stateless (sessions and cache in Redis,
data in PostgreSQL), so more servers behind nginx scale out the same way.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# gunicorn's guidance: 2–4 × cores concurrent requests (its `workers` and `threads`
# settings), sync workers only behind a buffering proxy, gthread for keep-alive. Here:
# threaded workers (gthread), one process per core, four threads each. A request spends
# part of its time waiting on PostgreSQL and Redis, and the threads keep the core busy
# meanwhile; and they keep HTTP connections alive between requests, which sync workers do
# not: with sync workers every request paid a TCP connect and accept, and a buy cost 11.7 ms
# of worker CPU against 7.5 ms (bench/load.py --mix buys, docs/performance.md). Measured
# here: 2 workers × 4 threads served the classroom mix best on 2 cores (5 × 2 and 3 × 3
# served slightly less, with a longer p95).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 4))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))  # seconds an idle connection stays

# nginx in front buffers slow clients, so no thread waits on a slow network.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
backlog = 2048

# Recycle workers now and then so a slow leak cannot grow without bound; the jitter keeps
# them from all restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = 2000

# Load the app before forking: workers share its memory and start in milliseconds. Django
# opens database connections lazily, per worker, so none is shared across the fork.
preload_app = True

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # "-" for stdout
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# No control socket (gunicornc, gunicorn 25.1+): systemd starts, reloads and stops the
# server, and the socket's default place, ~/.gunicorn/, is read-only to the service
# (ProtectSystem=strict in deploy/tradesim.service), where trying logs an error at start.
control_socket_disable = True
