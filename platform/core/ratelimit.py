"""Fixed-window attempt counters in the shared cache (Redis in production), for logins and uploads."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest

from core.errors import ApplicationError, CoreErrorCode


def client_address(request: HttpRequest) -> str:
    """The address rate limits count per: the peer as the server sees it (behind a reverse proxy, the proxy)."""
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(scope: str, ident: str) -> str:
    # Hash the identity so usernames and addresses never appear as cache keys.
    return f"rl:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def rate_limit_hit(*, scope: str, ident: str, limit: int, window_seconds: int) -> None:
    """Count one attempt; raise a 429 ApplicationError once `limit` attempts fall in the window."""
    key = _key(scope, ident)
    if cache.add(key, 1, timeout=window_seconds):
        return
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(key, 1, timeout=window_seconds)
        return
    if count > limit:
        raise ApplicationError(
            f"Too many attempts. Please wait {max(1, window_seconds // 60)} minutes and try again.",
            code=CoreErrorCode.RATE_LIMITED,
            status=429,
        )


def rate_limit_reset(*, scope: str, ident: str) -> None:
    """Forget the attempts (after a successful sign-in)."""
    cache.delete(_key(scope, ident))
