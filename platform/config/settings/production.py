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
