import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni.settings")
application = get_wsgi_application()

# Load the URL configuration (and with it the views, serializers and services) now rather than
# on the first request, then move everything loaded so far out of the garbage collector's sight:
# it lives as long as the process, and every full collection walked it again (~130,000 objects).
# Measured on the order path: the collector's CPU per order 1.2 → 0.3 ms, and no ~70 ms pause
# every hundred orders or so.
get_resolver().url_patterns
gc.collect()
gc.freeze()
