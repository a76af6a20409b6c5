"""gunicorn's settings for Omni's web processes: ``gunicorn -c python:omni.gunicorn omni.wsgi:application
--bind 0.0.0.0:8000``. The HTTP benchmarks (``bench api``, ``bench soak``) start gunicorn with this
module too, so what is measured is what runs.

Threaded workers (``gthread``), sized to the machine: ``cores + 1`` processes of ``WEB_THREADS``
threads each. Unlike the sync worker, which answers each request with ``Connection: close`` (a new
TCP connection per request) and wakes every idle worker for each one, a gthread worker keeps a
client's connection open between requests. On the 2-core bench machine the same availability read
took about 1.6 ms of web-process CPU under gthread and 1.7–3.8 ms under 5 sync workers
(docs/performance.md). Each thread holds its own database connection (``CONN_MAX_AGE``): count
``workers × threads`` connections per web machine against PostgreSQL's ``max_connections``.
"""

import os

workers = int(os.environ.get("WEB_WORKERS") or (os.cpu_count() or 1) + 1)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
# Idle keep-alive connections wait in the worker's poller (not in a thread) this many seconds; keep
# it above the load balancer's idle timeout so that the balancer, not gunicorn, closes them.
keepalive = int(os.environ.get("WEB_KEEPALIVE") or 75)
timeout = int(os.environ.get("WEB_TIMEOUT") or 60)


def post_worker_init(worker: object) -> None:
    """The worker has loaded Omni: move what loading made (modules, models, URL patterns — some
    140,000 objects) out of the garbage collector's sight (``gc.freeze``). They live as long as the
    process, and every full collection walked them all again: measured in-process, the collector
    took 0.38 ms of CPU per order placed, 0.13 ms with them frozen (docs/performance.md, sixth pass)."""
    import gc

    gc.collect()
    gc.freeze()
