"""cstracker settings: every value comes from the environment.

Defaults are safe for development (SQLite under var/, kombu's filesystem broker);
production sets DEBUG=false and the values `manage.py check --deploy` asks for.
A malformed value fails loudly at start-up instead of being silently ignored.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


VAR_DIR = Path(env_str("CSTRACKER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Development is the default so that a fresh checkout runs; production sets DEBUG=false
# and must then provide its own SECRET_KEY (the development key is refused).
DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "django-insecure-development-key-never-use-in-production"  # noqa: S105 - refused in production
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ValueError("SECRET_KEY must be set in the environment when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "inquiries",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Accept-Language (or the language cookie) picks the language for anonymous pages; the
    # user's own preference, further down, wins once they are logged in.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "inquiries.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "cstracker.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "cstracker.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cstracker.sqlite3'}"),
        # Opening a PostgreSQL connection per request cost half the CPU under load (200 agents
        # polling: p95 290 ms with per-request connections, 159 ms with persistent ones), so
        # production keeps them for a minute; health checks replace one the server dropped.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Short OLTP queries: PostgreSQL's JIT compiler costs more than it saves here.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = env_str("DATABASE_PG_OPTIONS", "-c jit=off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout waits
    # for a lock instead of failing with "database is locked" under the embedded setup.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

# Test databases carry the process id so parallel test runs on one machine never collide; a
# file (not memory) for SQLite so that a real Celery worker process can open it too.
_test_suffix = str(os.getpid())
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_test_suffix}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_test_suffix}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English is the default (and the API's language); the UI ships in four languages, each user
# picks one on the notifications page (UserPreference.language).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inquiries:queue"
LOGOUT_REDIRECT_URL = "login"

# --- security (check --deploy clean when DEBUG is off) ---
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Every page: scripts, styles, fonts and images from the app itself only; no inline script,
# no plugins, no framing. Customer HTML is sanitised too; this is the second wall.
from csp.constants import NONCE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", NONCE],  # the plan-of-action page carries its own <style> with the nonce
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- e-mail ---
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "cstracker@localhost")

# --- REST API ---
# Throttle counters live in the cache: set CACHE_URL (redis://...) when several web processes
# serve the API, so they count together; the default is each process's own memory.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL", "")}
        if env_str("CACHE_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "inquiries.api.errors.exception_handler",
    # Per token (user) and per client address; a refused request gets 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "inquiries.api.throttling.AddressRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("CSTRACKER_API_RATE_PER_TOKEN", "3000/min"),
        "address": env_str("CSTRACKER_API_RATE_PER_ADDRESS", "6000/min"),
    },
    # Behind a proxy, REMOTE_ADDR is the proxy: the client is the last address it added.
    "NUM_PROXIES": env_int("CSTRACKER_NUM_PROXIES", 0) if os.environ.get("CSTRACKER_NUM_PROXIES") else None,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cstracker API",
    "DESCRIPTION": "Customer-service response tracking: ingest messages, read inquiries and SLA clocks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind", "state" or "status": give each choice set its own name.
    "ENUM_NAME_OVERRIDES": {
        "InquiryStatusEnum": "inquiries.models.choices.Status",
        "PriorityEnum": "inquiries.models.choices.Priority",
        "DirectionEnum": "inquiries.models.choices.Direction",
        "MarketplaceEnum": "inquiries.models.choices.Marketplace",
        "ChannelKindEnum": "inquiries.models.choices.ChannelKind",
        "ClockKindEnum": "inquiries.models.clocks.ClockKind",
        "ClockStateEnum": "inquiries.models.clocks.ClockState",
        "EventKindEnum": "inquiries.models.inquiries.EventKind",
        "ClusterKindEnum": "inquiries.models.complaints.ClusterKind",
        "ClusterStateEnum": "inquiries.models.complaints.ClusterState",
        "ClusterEventKindEnum": "inquiries.models.complaints.ClusterEventKind",
        "HealthStatusEnum": "inquiries.models.health.HealthStatus",
        "DeliveryStateEnum": "inquiries.models.inquiries.Message.DeliveryState",
        "HealthBandEnum": ["healthy", "at_risk", "critical"],
    },
}

# --- Celery ---
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A dead broker must not hang a web request: publishing gives up quickly and the
# sweep picks the work up later (the database is the source of truth).
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    # A task taken by a worker that dies (acks_late) goes back to the queue after this long.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # How often a worker looks for such tasks (kombu's default is about every 100 s).
    "unacked_restore_interval": env_int("CELERY_RESTORE_SWEEP_SECONDS", 10),
    "unacked_restore_throttle": 1 if os.environ.get("CELERY_RESTORE_SWEEP_SECONDS") else 10,
}
CELERY_TASK_PUBLISH_RETRY = False
# Two queues: "celery" for the work agents wait on (follow-ups, sweeps, mail, notifications)
# and "background" for the long jobs (health backfill, report and order rollups, cluster sweep,
# topic training). A worker started without -Q consumes both; a busy installation runs a second
# worker with `-Q background --concurrency 1` so the long jobs never hold up the rest.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("background"))
CELERY_TASK_ROUTES = {
    name: {"queue": "background"}
    for name in (
        "inquiries.tasks.health_daily_snapshots",
        "inquiries.tasks.health_refresh_today",
        "inquiries.tasks.refresh_report_rollups",
        "inquiries.tasks.build_order_rollups",
        "inquiries.tasks.sweep_clusters",
        "inquiries.tasks.train_topic_model",
        "inquiries.tasks.expire_held_messages",
    )
}
# Stopping a worker: with REMAP_SIGTERM=SIGQUIT in its environment (the Procfiles set it),
# SIGTERM waits this long for running tasks, then hands them back to the broker (acks_late:
# another worker runs them again) and exits, instead of waiting for the longest task.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(env_int("CELERY_WORKER_SOFT_SHUTDOWN_SECONDS", 8))
# Agents' queue refreshes (htmx, every 15 s) with the same visible accounts and filters share
# one rendering for this long; 0 renders every refresh.
CSTRACKER_QUEUE_ROWS_CACHE_SECONDS = env_int("CSTRACKER_QUEUE_ROWS_CACHE_SECONDS", 5)
# A background task works for at most this long, then queues its own continuation.
CSTRACKER_BACKGROUND_BUDGET_SECONDS = env_int("CSTRACKER_BACKGROUND_BUDGET_SECONDS", 5)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _fs = Path(env_str("CELERY_FS_BROKER_DIR", str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        # kombu's filesystem transport does not create its folders.
        (_fs / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_fs / "queue"),
        "data_folder_out": str(_fs / "queue"),
        "processed_folder": str(_fs / "processed"),
        # Its exchange table; kombu's default is "control" in the current directory.
        "control_folder": str(_fs / "control"),
        "store_processed": False,
    }
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {"task": "inquiries.tasks.sweep_clocks", "schedule": 60.0},
    "notification-digests": {"task": "inquiries.tasks.send_notification_digests", "schedule": 60.0},
    "webhook-retries": {"task": "inquiries.tasks.retry_webhooks", "schedule": 300.0},
    "cluster-sweep": {"task": "inquiries.tasks.sweep_clusters", "schedule": 600.0},
    "topic-training": {"task": "inquiries.tasks.train_topic_model", "schedule": crontab(minute=17)},
    "sla-rollups": {"task": "inquiries.tasks.refresh_report_rollups", "schedule": 60.0},
    "report-digests": {"task": "inquiries.tasks.send_due_digests", "schedule": 900.0},
    # Account health: each account's day ends at its own local midnight, so the daily snapshot
    # job runs every hour and writes the days that have ended since (a no-op otherwise).
    "health-daily-snapshots": {
        "task": "inquiries.tasks.health_daily_snapshots",
        "schedule": crontab(minute=20),
    },
    "health-refresh-today": {"task": "inquiries.tasks.health_refresh_today", "schedule": crontab(minute=5)},
    # The order metrics' daily rollup of accounts with orders that have none (or one built for
    # another time zone or marketplace); the import keeps built ones current.
    "order-rollups": {"task": "inquiries.tasks.build_order_rollups", "schedule": 600.0},
    "held-expiry": {"task": "inquiries.tasks.expire_held_messages", "schedule": crontab(minute=35)},
    # Automatic assignment (docs/agents.md): hand on the inquiries of agents gone off shift or
    # out of office, and assign the ones that waited for a free agent.
    "rota-hand-on": {"task": "inquiries.tasks.hand_on_assignments", "schedule": 120.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- domain settings ---
CSTRACKER_REOPEN_WINDOW_DAYS = env_int("CSTRACKER_REOPEN_WINDOW_DAYS", 14)
CSTRACKER_ORDER_THREAD_DAYS = env_int("CSTRACKER_ORDER_THREAD_DAYS", 30)
CSTRACKER_FUTURE_TOLERANCE_SECONDS = env_int("CSTRACKER_FUTURE_TOLERANCE_SECONDS", 300)
CSTRACKER_BATCH_LIMIT = env_int("CSTRACKER_BATCH_LIMIT", 1000)
# A batch of 1,000 messages is several MB of JSON; Django's 2.5 MB default would refuse it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 64 * 1024 * 1024)
# Links in e-mails point here; notifications older than this (back-filled history) alert nobody.
CSTRACKER_BASE_URL = env_str("CSTRACKER_BASE_URL", "http://127.0.0.1:8000")
CSTRACKER_NOTIFY_MAX_AGE_HOURS = env_int("CSTRACKER_NOTIFY_MAX_AGE_HOURS", 24)
# The sweep redoes follow-up work of messages older than this whose task never ran.
CSTRACKER_FOLLOWUP_GRACE_SECONDS = env_int("CSTRACKER_FOLLOWUP_GRACE_SECONDS", 60)
# An agent's reply or note whose parent has not arrived is held this long, then expires
# (docs/recording.md, "Held messages"); the hourly sweep marks it and logs it.
CSTRACKER_HELD_EXPIRY_DAYS = env_int("CSTRACKER_HELD_EXPIRY_DAYS", 7)
if CSTRACKER_HELD_EXPIRY_DAYS < 1:
    raise ValueError("CSTRACKER_HELD_EXPIRY_DAYS must be at least 1")


# Complaint clusters (issue 6). Thresholds are whole percentages so they read the same in
# every environment file; they are checked here so a typo fails at start-up.
CSTRACKER_CLUSTER_WINDOW_DAYS = env_int("CSTRACKER_CLUSTER_WINDOW_DAYS", 7)
CSTRACKER_CLUSTER_BASELINE_DAYS = env_int("CSTRACKER_CLUSTER_BASELINE_DAYS", 56)
CSTRACKER_CLUSTER_MIN_COMPLAINTS = env_int("CSTRACKER_CLUSTER_MIN_COMPLAINTS", 3)
CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT = env_int("CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT", 80)
CSTRACKER_CLUSTER_TEXT_CANDIDATES = env_int("CSTRACKER_CLUSTER_TEXT_CANDIDATES", 500)
CSTRACKER_CLUSTER_CLASSIFIER_THRESHOLD_PERCENT = env_int("CSTRACKER_CLUSTER_CLASSIFIER_THRESHOLD_PERCENT", 70)
# The topic model that ships with cstracker (inquiries/complaints/shipped.py): on by default.
# CSTRACKER_TOPIC_MODEL_FILE is where `manage.py build_topic_model` writes it (run it at install);
# a process that finds it missing or stale trains it from the repository's data and writes it.
CSTRACKER_SHIPPED_TOPIC_MODEL = env_bool("CSTRACKER_SHIPPED_TOPIC_MODEL", True)
CSTRACKER_TOPIC_MODEL_FILE = env_str("CSTRACKER_TOPIC_MODEL_FILE", str(VAR_DIR / "topic-model.bin"))
CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES = env_int("CSTRACKER_TOPIC_MIN_TRAINING_SAMPLES", 50)
# Learning from the seller (services/topic_training.py): an account's model is retrained once it
# has this many labelled inquiries (above) in at least this many topics.
CSTRACKER_TOPIC_MIN_LABEL_TOPICS = env_int("CSTRACKER_TOPIC_MIN_LABEL_TOPICS", 2)
# Rate clusters (issue 21, point 5): complaints per unit sold of a product, delivery complaints
# per shipment of a carrier, over this window; at or above the percentage, once the product or
# carrier has the minimum units (shipments) in the window. Each account may set its own.
CSTRACKER_CLUSTER_RATE_WINDOW_DAYS = env_int("CSTRACKER_CLUSTER_RATE_WINDOW_DAYS", 30)
CSTRACKER_CLUSTER_RATE_PERCENT = env_int("CSTRACKER_CLUSTER_RATE_PERCENT", 5)
CSTRACKER_CLUSTER_RATE_MIN_UNITS = env_int("CSTRACKER_CLUSTER_RATE_MIN_UNITS", 50)
for _name in (
    "CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT",
    "CSTRACKER_CLUSTER_CLASSIFIER_THRESHOLD_PERCENT",
    "CSTRACKER_CLUSTER_RATE_PERCENT",
):
    if not 1 <= globals()[_name] <= 100:
        raise ValueError(f"{_name} must be a whole percentage between 1 and 100")
for _name in (
    "CSTRACKER_CLUSTER_WINDOW_DAYS",
    "CSTRACKER_CLUSTER_BASELINE_DAYS",
    "CSTRACKER_CLUSTER_MIN_COMPLAINTS",
    "CSTRACKER_CLUSTER_RATE_WINDOW_DAYS",
    "CSTRACKER_CLUSTER_RATE_MIN_UNITS",
):
    if globals()[_name] < 1:
        raise ValueError(f"{_name} must be at least 1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request's full URL at INFO: a marketplace report's pre-signed download
    # link (a bearer credential for the seller's report) must not reach the logs. The SP-API
    # client logs its request headers (an access token) at DEBUG.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "sp_api": {"level": "INFO"},
    },
}

# --- e-mail channels: IMAP polling, SMTP replies, provider webhooks (issue 9) ---
# Keys for secrets stored in the database (mailbox passwords, webhook secrets); the first
# encrypts, all decrypt, and a key derived from SECRET_KEY is always tried last.
CSTRACKER_FIELD_KEYS = env_list("CSTRACKER_FIELD_KEYS", [])
CSTRACKER_MAIL_TIMEOUT_SECONDS = env_int("CSTRACKER_MAIL_TIMEOUT_SECONDS", 30)
# A sender with more messages than this within the window is suspended (mail loops).
CSTRACKER_LOOP_GUARD_MESSAGES = env_int("CSTRACKER_LOOP_GUARD_MESSAGES", 20)
CSTRACKER_LOOP_GUARD_WINDOW_MINUTES = env_int("CSTRACKER_LOOP_GUARD_WINDOW_MINUTES", 60)
# Signed webhooks older (or newer) than this are refused.
CSTRACKER_WEBHOOK_TOLERANCE_SECONDS = env_int("CSTRACKER_WEBHOOK_TOLERANCE_SECONDS", 300)
CSTRACKER_WEBHOOK_MAX_BYTES = env_int("CSTRACKER_WEBHOOK_MAX_BYTES", 40 * 1024 * 1024)
# Outgoing webhooks, SMTP and IMAP connect only to public addresses (checked at connect time,
# see inquiries/outbound.py); these host names or networks (CIDR) are the exceptions, for
# on-premises servers: "mail.internal,10.20.0.0/16".
CSTRACKER_OUTBOUND_ALLOW = env_list("CSTRACKER_OUTBOUND_ALLOW", [])
# Outgoing webhooks use https; this allows plain http too.
CSTRACKER_WEBHOOK_ALLOW_HTTP = env_bool("CSTRACKER_WEBHOOK_ALLOW_HTTP", False)
for _name in (
    "CSTRACKER_MAIL_TIMEOUT_SECONDS",
    "CSTRACKER_LOOP_GUARD_WINDOW_MINUTES",
    "CSTRACKER_WEBHOOK_TOLERANCE_SECONDS",
):
    if globals()[_name] < 1:
        raise ValueError(f"{_name} must be at least 1")
CELERY_BEAT_SCHEDULE["mail-poll"] = {"task": "inquiries.tasks.poll_mailboxes", "schedule": 60.0}

# --- the outbox and the write API (issue 18) ---
# A write-API POST's Idempotency-Key is remembered (with its answer) this long, per user.
CSTRACKER_IDEMPOTENCY_HOURS = env_int("CSTRACKER_IDEMPOTENCY_HOURS", 24)
if CSTRACKER_IDEMPOTENCY_HOURS < 1:
    raise ValueError("CSTRACKER_IDEMPOTENCY_HOURS must be at least 1")
CELERY_BEAT_SCHEDULE["idempotency-keys-purge"] = {
    "task": "inquiries.tasks.purge_idempotency_keys",
    "schedule": 3600.0,
}

# --- the Amazon SP-API connector (issue 20, docs/orders.md) ---
# Amazon's endpoints; tests (and a proxy) point both at another server. Empty: Amazon's own,
# the API by each connection's region.
CSTRACKER_SPAPI_ENDPOINT = env_str("CSTRACKER_SPAPI_ENDPOINT", "")
CSTRACKER_LWA_TOKEN_URL = env_str("CSTRACKER_LWA_TOKEN_URL", "https://api.amazon.com/auth/o2/token")
# Seconds between two getReport polls, and how long a report may take before the run gives up.
CSTRACKER_SPAPI_POLL_SECONDS = env_int("CSTRACKER_SPAPI_POLL_SECONDS", 30)
CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS = env_int("CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS", 3600)
# Backoff after a throttled (429) or failed (5xx, network) call: exponential from this many
# seconds, with jitter, at most CSTRACKER_SPAPI_ATTEMPTS calls in all.
CSTRACKER_SPAPI_BACKOFF_SECONDS = env_int("CSTRACKER_SPAPI_BACKOFF_SECONDS", 2)
CSTRACKER_SPAPI_ATTEMPTS = env_int("CSTRACKER_SPAPI_ATTEMPTS", 6)
CSTRACKER_SPAPI_TIMEOUT_SECONDS = env_int("CSTRACKER_SPAPI_TIMEOUT_SECONDS", 60)
for _name in (
    "CSTRACKER_SPAPI_REPORT_TIMEOUT_SECONDS",
    "CSTRACKER_SPAPI_ATTEMPTS",
    "CSTRACKER_SPAPI_TIMEOUT_SECONDS",
):
    if globals()[_name] < 1:
        raise ValueError(f"{_name} must be at least 1")
for _name in ("CSTRACKER_SPAPI_POLL_SECONDS", "CSTRACKER_SPAPI_BACKOFF_SECONDS"):
    if globals()[_name] < 0:
        raise ValueError(f"{_name} must not be negative")
# Every 15 minutes, the connections whose own schedule (sync_every_hours) has come due fetch.
CELERY_BEAT_SCHEDULE["marketplace-sync"] = {
    "task": "inquiries.tasks.sync_marketplace_connections",
    "schedule": 900.0,
}
