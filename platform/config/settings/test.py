"""Test settings: the same services as configured (PostgreSQL and Redis in CI), fast hashing."""

import os
import uuid

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CACHES,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    CHANNEL_LAYERS,
    REDIS_URL,
    SECRET_KEY,
    VAR_DIR,
)

SECRET_KEY = SECRET_KEY or "test-only-secret-key-not-for-any-real-deployment-000000000000"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
JOB_PROGRESS_MIN_INTERVAL_SECONDS = 0.0
JOB_PROGRESS_POLL_SECONDS = 0.2
AVATAR_RENDER_WIDTH = 640
AVATAR_RENDER_HEIGHT = 360
# The test media are 3-7 s public clips; the 60 s requirement has its own tests
# (tests/avatars/test_enrollment_minimum.py), which set it back explicitly.
AVATAR_ENROLLMENT_MIN_SECONDS = 2

if REDIS_URL:
    # The suite's queues, channel messages and cache keys live under a prefix of their own, so no
    # other worker on the same Redis (a demo, another checkout's suite, a process left running) can
    # take the suite's jobs, nor the suite's worker theirs. Kept in the environment so the worker
    # processes some tests start share it.
    _PREFIX = os.environ.setdefault("CANDOR_TEST_REDIS_PREFIX", f"candor-test-{uuid.uuid4().hex[:12]}:")
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": _PREFIX}
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": _PREFIX}}
    _LAYER = CHANNEL_LAYERS["default"]
    CHANNEL_LAYERS = {"default": {**_LAYER, "CONFIG": {**_LAYER["CONFIG"], "prefix": f"{_PREFIX}asgi"}}}
else:
    # Without Redis the suite runs in one process: an in-memory cache and broker are enough.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
