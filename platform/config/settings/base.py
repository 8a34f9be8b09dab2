"""Settings shared by every environment. Values come from the environment (see .env.example).

With nothing configured the project runs embedded: SQLite, media files under var/, a filesystem
Celery broker and an in-process channel layer. `DATABASE_URL` and `REDIS_URL` switch to the real
services; `AWS_STORAGE_BUCKET_NAME` switches media storage to S3.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ

from config.env import ConfigError, env_bool, env_float, env_int, env_list, env_str

# Django's generic classes take type parameters at run time too (admin.ModelAdmin[User]), as in their stubs.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[3]
PLATFORM_DIR = BASE_DIR / "platform"
VAR_DIR = Path(env_str("CANDOR_VAR_DIR", "") or BASE_DIR / "var")

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "consent",
    "avatars",
    "detection",
    "provenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.faults.FaultResponseMiddleware",  # above everything that may touch the database or cache
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.middleware.SecondFactorRequiredMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"

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
    }
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "candor.sqlite3",
            # Writers wait for each other instead of failing at once: the web server and the
            # worker share the file in the embedded setup.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Check a reused connection before each request, so a database restart costs no failed requests.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
CACHES: dict[str, dict[str, Any]]
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    # Bounded socket waits: an unreachable Redis must not hang sign-in (the rate-limit counters fall
    # back to per-process counting when the cache fails).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
    # A websocket consumer waits for its next message with a blocking pop of 5 s (channels_redis's
    # brpop_timeout); redis-py 8 also reads with a 5 s socket timeout by default, and when that one
    # fires first the consumer dies and the page stops updating. The socket waits longer than the pop.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 30}]},
        }
    }
else:
    # A file cache is shared by the web server and the worker, so rate limits hold across both.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# An in-memory channel layer cannot carry messages from the worker process to the web process, so
# websocket consumers then also poll the job row at this interval. With Redis, pushes arrive at once
# and the poll is only a safety net.
JOB_PROGRESS_POLL_SECONDS = env_float("CANDOR_JOB_POLL_SECONDS", 5.0 if REDIS_URL else 1.0)
JOB_PROGRESS_MIN_INTERVAL_SECONDS = env_float("CANDOR_JOB_PROGRESS_INTERVAL_SECONDS", 0.5)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media-not-served/"  # files are served only through access-checked views

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "default_acl": None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
# On S3, media the platform has already authorized (a patient's video, a job output) can be handed out
# as a signed link valid this many seconds, so video bytes go from the bucket to the browser instead
# of through a web process. 0 streams them through Candor (the default; the only way on local files).
STORAGE_SIGNED_URL_SECONDS = (
    env_int("CANDOR_STORAGE_SIGNED_URL_SECONDS", 0, minimum=0) if AWS_STORAGE_BUCKET_NAME else 0
)
# Where those links point, for the Content-Security-Policy's media-src and img-src.
_s3_endpoint = env_str("AWS_S3_ENDPOINT_URL", "")
STORAGE_MEDIA_ORIGINS = (
    env_list(
        "CANDOR_STORAGE_MEDIA_ORIGINS",
        [_s3_endpoint.rstrip("/")]
        if _s3_endpoint
        else [f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com"],
    )
    if STORAGE_SIGNED_URL_SECONDS
    else []
)
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Upload limits (every upload passes core.uploads before anything is stored).
UPLOAD_MAX_BYTES = env_int("CANDOR_UPLOAD_MAX_BYTES", 500_000_000, minimum=1)
UPLOAD_MAX_DURATION_SECONDS = env_int("CANDOR_UPLOAD_MAX_DURATION_SECONDS", 30 * 60, minimum=1)
UPLOAD_MAX_DIMENSION = env_int("CANDOR_UPLOAD_MAX_DIMENSION", 4096, minimum=16)
UPLOAD_MIN_DIMENSION = env_int("CANDOR_UPLOAD_MIN_DIMENSION", 16, minimum=1)
UPLOAD_MAX_FPS = env_int("CANDOR_UPLOAD_MAX_FPS", 120, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# Rate limits: attempts per window, per client address and account.
LOGIN_RATE_LIMIT = env_int("CANDOR_LOGIN_RATE_LIMIT", 10, minimum=1)
LOGIN_RATE_WINDOW_SECONDS = env_int("CANDOR_LOGIN_RATE_WINDOW_SECONDS", 15 * 60, minimum=1)
UPLOAD_RATE_LIMIT = env_int("CANDOR_UPLOAD_RATE_LIMIT", 60, minimum=1)
UPLOAD_RATE_WINDOW_SECONDS = env_int("CANDOR_UPLOAD_RATE_WINDOW_SECONDS", 60 * 60, minimum=1)

# Request guards (issue 9): who may speak for the client's address, and how large a request may be.
# Addresses or networks (comma-separated) of reverse proxies whose X-Forwarded-For is believed; by
# default none, so the direct peer is the client. Read only by core.ratelimit.client_address.
TRUSTED_PROXIES = env_list("CANDOR_TRUSTED_PROXIES", [])
# Bearer token Prometheus sends to GET /metrics; without one only loopback clients may scrape.
METRICS_TOKEN = env_str("CANDOR_METRICS_TOKEN", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ConfigError(f"CANDOR_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network.") from _exc
# Request bodies are refused by core.middleware.RequestBodyLimit before Django reads them: by the
# declared Content-Length at once, a streamed (chunked) body as soon as it passes the limit.
REQUEST_MAX_BYTES = env_int("CANDOR_REQUEST_MAX_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE, minimum=1024)
# Paths that accept media files get the file limit plus room for the form around the file (and for
# a voice sample sent with enrollment footage). A new upload endpoint must be added here.
REQUEST_UPLOAD_PATHS = [
    r"^/videos/upload/$",
    r"^/api/v1/videos/$",
    r"^/studio/$",
    r"^/studio/scripts/[^/]+/$",
    r"^/anonymize/$",
    r"^/consent/likeness/[^/]+/evidence/$",
    r"^/api/v1/consents/likeness/[^/]+/evidence/$",
    r"^/verify/$",
    r"^/api/v1/verify/$",
    r"^/scanner/$",
    r"^/api/v1/scans/$",
    r"^/scanner/dicom/$",
    r"^/scanner/dicom/[^/]+/$",
    r"^/api/v1/dicom/studies/$",
]
REQUEST_UPLOAD_MARGIN_BYTES = env_int("CANDOR_REQUEST_UPLOAD_MARGIN_BYTES", 16 * 1024 * 1024, minimum=0)
# Public upload paths whose per-address rate limit is checked (not counted) before the body is read,
# so a client over the limit is refused before it uploads. The scope is the one the service counts in.
REQUEST_RATE_LIMITED_PATHS = {
    r"^/(api/v1/)?verify/$": {
        "scope": "verify",
        "limit": "PROVENANCE_VERIFY_RATE_LIMIT",
        "window": "PROVENANCE_VERIFY_RATE_WINDOW_SECONDS",
    },
}

INVITATION_VALID_DAYS = env_int("CANDOR_INVITATION_VALID_DAYS", 7, minimum=1)
# A password reset link works once (the password it changes is part of its signature) and for an hour.
PASSWORD_RESET_TIMEOUT = 60 * 60
# Biometric data of an enrollment (footage, photo, voice sample, analysis, derived templates) is
# destroyed this many days after its last use, or this many days after the clinician's last likeness
# consent ended, whichever comes first (BIPA: the purpose ended, or three years after the last
# interaction). docs/biometric-data.md says why; the retention schedule page shows both.
BIOMETRIC_RETENTION_DAYS = env_int("CANDOR_BIOMETRIC_RETENTION_DAYS", 3 * 365, minimum=1)
BIOMETRIC_CONSENT_END_GRACE_DAYS = env_int("CANDOR_BIOMETRIC_CONSENT_END_GRACE_DAYS", 30, minimum=0)
OTP_TOTP_ISSUER = "Candor"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "core.api.permissions.IsClinicMember",
        "core.api.permissions.SecondFactorPassed",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Candor API",
    "DESCRIPTION": "Consented synthetic media for clinics: jobs, uploads, consent and provenance.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # The scanner's choice sets share field names ("kind", "status") with others: name them.
    "ENUM_NAME_OVERRIDES": {
        "ScanKindEnum": "detection.models.ScanKind",
        "ScanStatusEnum": "detection.models.ScanStatus",
    },
}

# Media jobs (issue 9 findings 12-13). While a job runs, a thread beside it renews the job's heartbeat
# every JOB_HEARTBEAT_SECONDS, whatever the work reports. A running job without a heartbeat for
# JOB_LEASE_SECONDS has lost its worker: it is shown as stalled and may be claimed again (a new
# attempt, whose number fences every later write). Beat looks for such jobs every
# JOB_STALL_CHECK_SECONDS, so a dead worker's job restarts within lease + check interval. A queued job
# whose message may have been lost is re-sent after JOB_QUEUED_RESEND_SECONDS (a backlog is normal).
JOB_HEARTBEAT_SECONDS = env_float("CANDOR_JOB_HEARTBEAT_SECONDS", 10.0)
JOB_LEASE_SECONDS = env_int("CANDOR_JOB_LEASE_SECONDS", 60, minimum=1)
JOB_STALL_CHECK_SECONDS = env_int("CANDOR_JOB_STALL_CHECK_SECONDS", 30, minimum=1)
JOB_QUEUED_RESEND_SECONDS = env_int("CANDOR_JOB_QUEUED_RESEND_SECONDS", 10 * 60, minimum=1)
JOB_MAX_ATTEMPTS = env_int("CANDOR_JOB_MAX_ATTEMPTS", 3, minimum=1)
if not 0 < JOB_HEARTBEAT_SECONDS * 3 <= JOB_LEASE_SECONDS:
    # Fewer than three beats per lease would let one slow database write make a live job look dead.
    raise ConfigError("CANDOR_JOB_HEARTBEAT_SECONDS must be positive and at most a third of the lease.")

# Celery. Without Redis the broker is a folder on disk, which the web server and the worker share.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    # Longer than the longest job (hard limit below), so a slow job is not redelivered while it runs.
    {"visibility_timeout": 3 * 60 * 60}
    if REDIS_URL
    else {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
    }
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"core.tasks.video_proxy_run": {"queue": "media"}}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CANDOR_JOB_SOFT_TIME_LIMIT", 2 * 60 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CANDOR_JOB_HARD_TIME_LIMIT", 2 * 60 * 60 + 300, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "requeue-stalled-jobs": {
        "task": "core.tasks.jobs_requeue_stalled",
        "schedule": timedelta(seconds=JOB_STALL_CHECK_SECONDS),
    },
    "sign-ledger-head": {"task": "consent.tasks.ledger_head_sign", "schedule": timedelta(minutes=1)},
    "expire-consents": {"task": "consent.tasks.consents_expire", "schedule": timedelta(minutes=10)},
    "expire-biometrics": {"task": "avatars.tasks.biometric_data_expire", "schedule": timedelta(hours=24)},
}
# Ledger: Ed25519 key for signed tree heads (PEM in the variable or a file via _FILE). Development
# generates one under var/keys; production refuses to start without a configured key.
LEDGER_SIGNING_KEY_PEM = env_str("CANDOR_LEDGER_SIGNING_KEY", "")
LEDGER_SIGNING_KEY_PATH = VAR_DIR / "keys" / "ledger-ed25519.pem"
LEDGER_GENERATE_DEV_KEY = True
# Public keys (PEM, separated by blank lines) of retired signing keys, so old heads still verify.
LEDGER_RETIRED_PUBLIC_KEYS_PEM = [
    block.strip() + "\n"
    for block in env_str("CANDOR_LEDGER_RETIRED_PUBLIC_KEYS", "").split("\n\n")
    if block.strip()
]
LIKENESS_CONSENT_MAX_YEARS = 10
# A live consent statement's one-time challenge phrase is valid this many minutes after it is shown.
STATEMENT_CHALLENGE_MINUTES = env_int("CANDOR_STATEMENT_CHALLENGE_MINUTES", 5, minimum=1)
# What a live statement asks the clinician to say (consent.services.challenges.StatementWording).
# Deliberately not read from the environment: only a test's settings name another wording.
STATEMENT_WORDING = "consent.services.challenges.PRODUCT_WORDING"
# Avatar renders: output size (720p by default; tests render small).
AVATAR_RENDER_WIDTH = env_int("CANDOR_AVATAR_RENDER_WIDTH", 1280, minimum=64)
AVATAR_RENDER_HEIGHT = env_int("CANDOR_AVATAR_RENDER_HEIGHT", 720, minimum=64)
# Footage enrollment: seconds of footage with a clear face required (the page asks for a minute).
AVATAR_ENROLLMENT_MIN_SECONDS = env_int("CANDOR_AVATAR_ENROLLMENT_MIN_SECONDS", 60, minimum=0)

# Provenance: the platform root CA and clinic signing identities live in files under this folder
# (a secret volume in production). Development generates them on first use.
PROVENANCE_KEY_DIR = Path(env_str("CANDOR_PROVENANCE_KEY_DIR", "") or VAR_DIR / "keys" / "provenance")
PROVENANCE_GENERATE_DEV_KEYS = True
# Certificates (PEM, blank-line separated) of retired platform roots that verification still trusts.
PROVENANCE_EXTRA_TRUST_PEM = [
    block.strip() + "\n"
    for block in env_str("CANDOR_PROVENANCE_EXTRA_TRUST", "").split("\n\n")
    if block.strip()
]
# Secret key of the invisible watermark (at least 32 characters; in the variable or a file via _FILE).
# Anyone holding it can read, forge or subtract the mark, so it never leaves the servers. Development
# generates one under PROVENANCE_KEY_DIR; production refuses to start without it.
PROVENANCE_WATERMARK_KEY = env_str("CANDOR_PROVENANCE_WATERMARK_KEY", "")
PROVENANCE_WATERMARK_KEY_PATH = PROVENANCE_KEY_DIR / "watermark.key"
# The public verify page and API: checks per client address per window.
PROVENANCE_VERIFY_RATE_LIMIT = env_int("CANDOR_VERIFY_RATE_LIMIT", 30, minimum=1)
PROVENANCE_VERIFY_RATE_WINDOW_SECONDS = env_int("CANDOR_VERIFY_RATE_WINDOW_SECONDS", 60 * 60, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env_str("CANDOR_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print every request a second time.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# E-mail (scanner alerts to compliance officers). Console backend unless an SMTP host is configured.
EMAIL_HOST = env_str("CANDOR_EMAIL_HOST", "")
EMAIL_PORT = env_int("CANDOR_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("CANDOR_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("CANDOR_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CANDOR_EMAIL_USE_TLS", False)
EMAIL_BACKEND = env_str(
    "CANDOR_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("CANDOR_DEFAULT_FROM_EMAIL", "Candor <no-reply@candor.invalid>")
