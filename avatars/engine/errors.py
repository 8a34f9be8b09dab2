"""Errors the render engine raises: each one is worded so a clinician knows what to change.

Callers (the Celery task, the API) map `code` to their own error enum; `message` is safe to show
as-is because it never contains patient data.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidSpecError(EngineError):
    """The render request itself is incomplete or contradictory (empty script, empty label...)."""

    code = "invalid_spec"


class SpeechError(EngineError):
    """Narration could not be turned into speech timing (no voice for the language, silent audio)."""

    code = "speech_invalid"


class MediaInputError(EngineError):
    """An input file (footage, photo, narration) cannot be read or is unusable as media."""

    code = "media_invalid"


class EnrollmentError(EngineError):
    """Enrollment footage or photo fails a quality check; the message says what to re-record."""

    code = "enrollment_rejected"


class UnsupportedModeError(EngineError):
    """The requested avatar mode is not available in this installation."""

    code = "mode_unsupported"


class RenderCancelled(EngineError):
    """Raised from a progress callback to stop a render (e.g. consent was revoked mid-render)."""

    code = "render_cancelled"
