"""Benchmarks: one module per benchmark, found by ``python manage.py bench``."""
