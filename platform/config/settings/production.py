"""Production settings: secrets and hosts must come from the environment; HTTPS everywhere."""

from config.env import ConfigError, env_bool, env_int
from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASE_URL, PROVENANCE_WATERMARK_KEY, REDIS_URL, SECRET_KEY

DEBUG = False
if len(SECRET_KEY) < 50:
    raise ConfigError("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must hold at least 50 characters.")
if not DATABASE_URL or not REDIS_URL:
    raise ConfigError("Production needs DATABASE_URL (PostgreSQL) and REDIS_URL.")
if len(PROVENANCE_WATERMARK_KEY) < 32:
    raise ConfigError(
        "CANDOR_PROVENANCE_WATERMARK_KEY (or CANDOR_PROVENANCE_WATERMARK_KEY_FILE) must hold at least 32 characters."
    )

LEDGER_GENERATE_DEV_KEY = False
PROVENANCE_GENERATE_DEV_KEYS = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# Each web process keeps a small pool of PostgreSQL connections (psycopg's pool, Django 5.1+) instead
# of connecting per request: under ASGI a request's queries run in worker threads, so persistent
# per-thread connections (CONN_MAX_AGE) would be opened by every thread and never shared.
DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
DATABASES["default"]["OPTIONS"]["pool"] = {  # noqa: F405
    "min_size": env_int("CANDOR_DB_POOL_MIN", 2, minimum=0),
    "max_size": env_int("CANDOR_DB_POOL_MAX", 8, minimum=1),
    "timeout": 10,
}
