"""What other apps do when a likeness consent ends (revoked, expired, clinician departed).

An app registers a handler in its AppConfig.ready(); each handler stops or withdraws what depends
on the consent and returns one effect per thing it changed, which the consent service records in
the ledger. Handlers run inside the revocation's transaction: if one fails, nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consent.models import LikenessConsent


@dataclass(frozen=True)
class ConsentEndEffect:
    """One consequence of a consent ending, recorded as a ledger event."""

    event_type: str  # e.g. "job.cancelled", "publication.withdrawn"
    object_type: str
    object_id: str
    data: dict[str, Any] = field(default_factory=dict)


ConsentEndHandler = Callable[["LikenessConsent", str], list[ConsentEndEffect]]

_handlers: list[ConsentEndHandler] = []


def consent_end_handler_register(handler: ConsentEndHandler) -> None:
    """Register a handler called with (consent, reason) when a likeness consent stops being usable."""
    if handler not in _handlers:
        _handlers.append(handler)


def consent_end_handlers() -> list[ConsentEndHandler]:
    return list(_handlers)
