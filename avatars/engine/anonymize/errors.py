"""Errors the anonymization engine raises on purpose, each worded for the person who uploaded."""

from __future__ import annotations

from avatars.engine.errors import EngineError


class AnonymizeError(EngineError):
    """Base of every anonymization error: bad spec, unreadable input, missing models."""

    code = "anonymize_failed"


class AnonymizeCancelled(AnonymizeError):
    """Raise it from the progress callback to stop a run (e.g. the patient withdrew consent).

    The engine deletes its partial output and lets this exception through unchanged.
    """

    code = "anonymize_cancelled"
