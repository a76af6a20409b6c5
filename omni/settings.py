"""Omni settings: one module, read from the environment.

With nothing set, the embedded default runs: a SQLite file database and Celery tasks run
eagerly in-process. With DATABASE_URL (PostgreSQL through psycopg 3) and REDIS_URL /
CELERY_BROKER_URL it runs on PostgreSQL and Redis with real Celery workers.
DJANGO_ENV=production turns on the production checks (real secret key, HTTPS, HSTS ...).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.templatetags.static import static
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development").lower()
PRODUCTION = DJANGO_ENV == "production"

_DEV_SECRET = "omni-dev-insecure-secret-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs DJANGO_SECRET_KEY set to a random string of 50+ characters."
    )

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "omni.error_pages.csrf_failure"  # an expired form, said in the look of the page it came from

INSTALLED_APPS = [
    # the admin theme (its templates come before Django's admin's)
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "import_export",
    "health_check",
    "health_check.cache",
    "health_check.contrib.db_heartbeat",
    "axes",
    "django_htmx",
    "omni",
    "inventory",
    "allocation",
    "omni.access",
    "orders",
    "fulfillment",
    "omni.insights",
]

MIDDLEWARE = [
    "omni.logs.RequestIdMiddleware",
    "omni.api.guard.ApiGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "omni.admin_csp.CSPMiddleware",  # django-csp's, the settings' policy built once (see the module)
    "omni.admin_csp.PageScriptPolicyMiddleware",  # the admin theme's Alpine.js and ReDoc (see the module)
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The store app speaks the staff's language (Accept-Language or the chosen one); the admin
    # and the API stay in LANGUAGE_CODE.
    "fulfillment.store.middleware.StoreLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's, the request's message storage made on first use (omni/middleware.py)
    "omni.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "omni.urls"
WSGI_APPLICATION = "omni.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fulfillment.store.context.store_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with savepoints sent with the next statement instead of on their own
        # (five round trips less per order placed over the API; omni/db/postgresql/base.py says how)
        DATABASES["default"]["ENGINE"] = "omni.db.postgresql"
else:
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DATABASE_URL (PostgreSQL).")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Store staff sign in at the site root (fulfillment/store); the admin keeps its own login form.
LOGIN_URL = "store:login"
LOGIN_REDIRECT_URL = "store:home"
LOGOUT_REDIRECT_URL = "store:login"
# django-axes throttles sign-in attempts (the store login and the admin login alike): after
# AXES_FAILURE_LIMIT failures for one user name from one address, that pair is locked out for
# AXES_COOLOFF_TIME; a successful sign-in clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("OMNI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("OMNI_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "store/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed attempt is kept for the admin (Axes → Access failures)
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The API answers a larger body with 413 (omni/api/guard.py): JSON and forms, and CSV uploads.
OMNI_API_MAX_BODY_BYTES = int(os.environ.get("OMNI_API_MAX_BODY_BYTES", str(DATA_UPLOAD_MAX_MEMORY_SIZE)))
OMNI_API_MAX_UPLOAD_BYTES = int(os.environ.get("OMNI_API_MAX_UPLOAD_BYTES", str(512 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Security (production) ------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "omni.access.auth.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "omni.api.pagination.DefaultPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_PARSER_CLASSES": ["omni.api.guard.JSONParser"],
    # DRF's negotiation, its choice kept per (renderers, format, Accept): omni/api/negotiation.py
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "omni.api.negotiation.ContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["omni.access.throttling.CallerRateThrottle"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "omni.api.errors.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omni API",
    "DESCRIPTION": "Omnichannel inventory and order management: stock, availability, orders, sync.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "omni.api.schema.postprocess_errors",
                           "omni.api.schema.postprocess_links", "omni.api.schema.postprocess_replayed_header"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field called "status"; each choice set gets its own stable name.
    # Swagger UI and ReDoc from the installed drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "OrderLineStatusEnum": "orders.models.LineStatus",
        "AllocationStatusEnum": "orders.models.AllocationStatus",
        "HoldStatusEnum": "orders.models.HoldStatus",
        "ReservationStatusEnum": "inventory.models.ReservationStatus",
        "TransferStatusEnum": "inventory.models.TransferStatus",
        "ImportStatusEnum": "inventory.imports.models.ImportStatus",
        "WorkStatusEnum": "fulfillment.models.WorkStatus",
        "WorkKindEnum": "fulfillment.models.WorkKind",
    },
}

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
# Without a broker the embedded default runs every task eagerly, in-process.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless this is
# set; omni/celery.py closes only old or broken ones instead, as Django does around a request.
CELERY_DB_REUSE_MAX = 2**62
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "allocation.sync.tasks.*": {"queue": "sync"},
    "inventory.tasks.import_*": {"queue": "imports"},
}
# The visibility timeout must exceed the longest countdown/ETA we schedule (see Celery's Redis
# transport caveats), else a delayed task would be redelivered while it still waits.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
OMNI_BEAT_HEARTBEAT_SECONDS = int(os.environ.get("OMNI_BEAT_HEARTBEAT_SECONDS", "30"))
# Filled in omni/celery.py from each app's BEAT_SCHEDULE; omni's own heartbeat feeds /health/ready.
CELERY_BEAT_SCHEDULE: dict = {
    "omni-beat-heartbeat": {"task": "omni.tasks.beat_heartbeat", "schedule": float(OMNI_BEAT_HEARTBEAT_SECONDS)},
}

# --- Caches ---------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-import-export: a CSV import writes rows, so it needs the model's change permission; an export
# reads them, so it needs the view permission (the library's default lets any staff user do both).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# --- Admin (django-unfold) ------------------------------------------------------------------
# The merchandiser's console: "Omni" branding, the KPI dashboard as the home page, a sidebar built
# per user from the admin registry and the user's permissions (omni/insights/navigation.py).
UNFOLD = {
    "SITE_TITLE": "Omni",
    "SITE_HEADER": "Omni",
    "SITE_SUBHEADER": "Inventory & orders",
    "SITE_SYMBOL": "inventory_2",
    "SITE_URL": "/admin/",  # "View site": the dashboard (store staff sign in at the site root)
    "SHOW_VIEW_ON_SITE": False,
    "STYLES": [lambda request: static("omni/console.css")],
    "SCRIPTS": [lambda request: static("omni/console.js")],
    "DASHBOARD_CALLBACK": "omni.insights.views.dashboard_callback",
    "COLORS": {
        "primary": {
            "50": "oklch(97.8% .014 180)", "100": "oklch(95% .04 180)", "200": "oklch(90% .07 180)",
            "300": "oklch(83% .1 181)", "400": "oklch(72% .12 182)", "500": "oklch(60% .12 184)",
            "600": "oklch(51% .1 186)", "700": "oklch(44% .085 188)", "800": "oklch(38% .07 189)",
            "900": "oklch(33% .06 190)", "950": "oklch(22% .04 192)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "omni.insights.navigation.sidebar",
    },
}

# --- Omni -----------------------------------------------------------------------------------
OMNI_SITE_URL = os.environ.get("OMNI_SITE_URL", "http://127.0.0.1:8000")

# Structured logs: LOG_FORMAT=json (the default in production) writes one JSON object per line;
# every record carries the request id (omni/logs.py), in Celery tasks too.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if PRODUCTION else "text").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "omni.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"],
                             "formatter": "json" if LOG_FORMAT == "json" else "text"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING" if PRODUCTION else "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- API rate limits (omni/access/throttling.py) ---------------------------------------------
# Per caller (a partner token, a person, an address), on the cache (Redis with REDIS_URL); empty: off.
OMNI_API_RATE = os.environ.get("OMNI_API_RATE", "6000/m")

# --- Content-Security-Policy (django-csp) on every page -------------------------------------
# Scripts only from this site (no inline script); inline style attributes are allowed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Channel sync (allocation/sync) ---------------------------------------------------------
# Inventory calls this after every commit that wrote outbox rows: it wakes the sync drain.
OMNI_OUTBOX_HOOK = "allocation.sync.kick"
# A woken drain waits this long so that one drain takes a whole burst of commits.
OMNI_SYNC_MICRO_BATCH_MS = int(os.environ.get("OMNI_SYNC_MICRO_BATCH_MS", "100"))
# A web process that knows a drain is queued skips waking it until this long before the drain's ETA
# (allocation/sync/trigger.py): keep it above the clock difference between web and worker machines.
OMNI_SYNC_WAKE_MARGIN_MS = int(os.environ.get("OMNI_SYNC_WAKE_MARGIN_MS", "25"))

# --- Health (omni/health.py, /health/live and /health/ready) ---------------------------------
HEALTH_CHECK = {"DISABLE_THREADING": True}
HEALTHCHECK_CELERY_PING_TIMEOUT = float(os.environ.get("OMNI_HEALTH_PING_TIMEOUT", "1"))
OMNI_BEAT_STALE_SECONDS = int(os.environ.get("OMNI_BEAT_STALE_SECONDS", "180"))
OMNI_HEALTH_OUTBOX_LAG_SECONDS = int(os.environ.get("OMNI_HEALTH_OUTBOX_LAG_SECONDS", "300"))

# --- CSV stock imports (inventory/imports) --------------------------------------------------
# A running import whose worker gives no sign of life for this long is reaped by beat (failed).
OMNI_IMPORT_STALE_SECONDS = int(os.environ.get("OMNI_IMPORT_STALE_SECONDS", "600"))

# --- Inbound stock snapshots (inventory/snapshots) --------------------------------------------
# A line whose |variance| exceeds either threshold waits for a merchandiser's approval.
OMNI_SNAPSHOT_APPROVAL_UNITS = int(os.environ.get("OMNI_SNAPSHOT_APPROVAL_UNITS", "10"))
OMNI_SNAPSHOT_APPROVAL_PERCENT = int(os.environ.get("OMNI_SNAPSHOT_APPROVAL_PERCENT", "20"))

# --- Customer notifications (fulfillment/notifications) ---------------------------------------
# Email through Django's backend (console by default: messages are printed; set EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST … in production).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Omni <orders@omni.invalid>")
# SMS through a pluggable backend: console (default), file (one line per message in
# OMNI_SMS_FILE_PATH), locmem (tests), or fulfillment.notifications.sms.TwilioSmsBackend (needs
# `pip install twilio` and TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_FROM_NUMBER).
OMNI_SMS_BACKEND = os.environ.get("OMNI_SMS_BACKEND", "fulfillment.notifications.sms.ConsoleSmsBackend")
OMNI_SMS_FILE_PATH = os.environ.get("OMNI_SMS_FILE_PATH", str(BASE_DIR / "sms.log"))
# Messages go out in the order's language when it is one of these, else in LANGUAGE_CODE's; the
# store app's pages speak them too. One catalogue (locale/tr) holds the notifications' and the
# store app's strings (`make messages-update`, then `make messages`).
LANGUAGES = [("en", "English"), ("tr", "Türkçe")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Pickups: a reminder after this many hours ready, expiry after this many days (defaults for
# every store; a store's own pickup policy in the admin overrides them).
OMNI_PICKUP_REMINDER_HOURS = int(os.environ.get("OMNI_PICKUP_REMINDER_HOURS", "24"))
OMNI_PICKUP_EXPIRY_DAYS = int(os.environ.get("OMNI_PICKUP_EXPIRY_DAYS", "7"))
# A pickup store rejected units: the customer has this long to choose (another store, delivery,
# cancel) before the channel's shortage rule applies; a channel may set its own (ChannelChoicePolicy).
OMNI_CUSTOMER_CHOICE_HOURS = int(os.environ.get("OMNI_CUSTOMER_CHOICE_HOURS", "48"))
# How long an Idempotency-Key's answer is kept for replay (orders' per channel, the stock API's per
# caller); a nightly job forgets older ones, after which the same key runs the request again.
OMNI_IDEMPOTENCY_KEEP_DAYS = int(os.environ.get("OMNI_IDEMPOTENCY_KEEP_DAYS", "7"))
# Read-mostly configuration every order reads (routing profiles, locations, capacity, SLAs) is kept
# in each process this many seconds (omni/config_cache.py): another process sees a change within
# it, the process that made it at once; 0: read every time. The locations' "not found" counts
# (routing's 90-day accuracy score) are kept OMNI_ACCURACY_CACHE_SECONDS (off when either is 0).
OMNI_CONFIG_CACHE_SECONDS = float(os.environ.get("OMNI_CONFIG_CACHE_SECONDS", "10"))
OMNI_ACCURACY_CACHE_SECONDS = float(os.environ.get("OMNI_ACCURACY_CACHE_SECONDS", "60"))
# A customer message stuck "being sent" this long (its worker died) is marked failed and sent again.
OMNI_NOTIFICATION_SENDING_TIMEOUT_SECONDS = int(os.environ.get("OMNI_NOTIFICATION_SENDING_TIMEOUT_SECONDS", "600"))
