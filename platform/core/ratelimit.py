"""Fixed-window attempt counters, for sign-ins, uploads and the public verify check, and the one
place that decides which client address they count per.

The counters live in the shared cache (Redis in production). When that cache cannot be reached they
fall back to a counter inside this process instead of failing the request or failing open: signing
in must keep working while Redis restarts, yet a password guesser must not get unlimited attempts
just because Redis is down. With N web processes the effective limit during an outage is at most N
times the configured one, and counting returns to the shared cache as soon as it answers again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest

from core.errors import ApplicationError, CoreErrorCode

logger = logging.getLogger(__name__)

T = TypeVar("T")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Used only while the shared cache fails; bounded so an outage under attack cannot grow it unbounded.
_local_counters = LocMemCache("candor-rate-limit-fallback", {"OPTIONS": {"MAX_ENTRIES": 50_000}})


# --- client address ----------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in network for network in networks)


def forwarded_client(*, peer: str, forwarded_for: str, trusted_proxies: Sequence[str]) -> str:
    """The address of the client: the direct peer, unless the peer is a trusted proxy.

    Only then is X-Forwarded-For read, from the right: each trusted proxy appends the address it
    received the request from, so the right-most address that is not a trusted proxy is the first
    one no trusted party can have been lied to about. Anything left of it is the client's own claim.
    """
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def client_address(request: HttpRequest) -> str:
    """The address rate limits count per (see forwarded_client and CANDOR_TRUSTED_PROXIES)."""
    return forwarded_client(
        peer=str(request.META.get("REMOTE_ADDR", "")),
        forwarded_for=str(request.META.get("HTTP_X_FORWARDED_FOR", "")),
        trusted_proxies=settings.TRUSTED_PROXIES,
    )


# --- counters ----------------------------------------------------------------------------------


def _key(scope: str, ident: str) -> str:
    # Hash the identity so usernames and addresses never appear as cache keys.
    return f"rl:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def _on_counter_store(operation: Callable[[BaseCache], T]) -> T:
    """Run `operation` on the shared cache, or on this process's counters while the cache fails."""
    try:
        return operation(cache)
    except Exception as exc:  # noqa: BLE001 - any backend's outage: Redis refused, timed out, disk full
        logger.warning("Rate-limit cache unavailable (%s); counting in this process.", type(exc).__name__)
        return operation(_local_counters)


def _refusal(window_seconds: int) -> ApplicationError:
    return ApplicationError(
        f"Too many attempts. Please wait {max(1, window_seconds // 60)} minutes and try again.",
        code=CoreErrorCode.RATE_LIMITED,
        status=429,
    )


def rate_limit_hit(*, scope: str, ident: str, limit: int, window_seconds: int) -> None:
    """Count one attempt; raise a 429 ApplicationError once `limit` attempts fall in the window."""
    key = _key(scope, ident)

    def count(store: BaseCache) -> int:
        if store.add(key, 1, timeout=window_seconds):
            return 1
        try:
            return int(store.incr(key))
        except ValueError:  # the key expired between add() and incr()
            store.add(key, 1, timeout=window_seconds)
            return 1

    if _on_counter_store(count) > limit:
        raise _refusal(window_seconds)


def rate_limit_check(*, scope: str, ident: str, limit: int, window_seconds: int) -> None:
    """Raise the same 429 as rate_limit_hit would for the next attempt, without counting one.

    Used before a request body is read, so a client over the limit is refused before it uploads.
    """
    stored: Any = _on_counter_store(lambda store: store.get(_key(scope, ident)))
    if stored is not None and int(stored) >= limit:
        raise _refusal(window_seconds)


def rate_limit_reset(*, scope: str, ident: str) -> None:
    """Forget the attempts (after a successful sign-in)."""
    _on_counter_store(lambda store: store.delete(_key(scope, ident)))
