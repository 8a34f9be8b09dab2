"""Embedded development and demo settings: everything works with no configuration at all."""

from config.env import env_bool
from config.settings.base import *  # noqa: F403
from config.settings.base import SECRET_KEY, VAR_DIR

# The demo looks like the product: no debug pages (an unknown address is the product's own 404, not
# a list of every URL pattern). DJANGO_DEBUG=True turns them back on for development.
DEBUG = env_bool("DJANGO_DEBUG", False)
# Demo conveniences: `manage.py totp_code` prints a demo user's current second-factor code.
CANDOR_DEMO = True
if not SECRET_KEY:
    # A per-checkout key kept under var/, so sessions survive restarts without any setup.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()
