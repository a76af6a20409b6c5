"""Test harnesses: real processes (a private redis-server, a Celery worker) and a reference webhook
receiver, used by the integration tests and by ``manage.py bench``."""
