"""The one application error, rendered by the API as {"message", "code", "extra"}."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CoreErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    INVALID_INPUT = "invalid_input"
    RATE_LIMITED = "rate_limited"
    INVITATION_INVALID = "invitation_invalid"
    JOB_NOT_CANCELLABLE = "job_not_cancellable"
    UPLOAD_EMPTY = "upload_empty"
    UPLOAD_TOO_LARGE = "upload_too_large"
    UPLOAD_UNKNOWN_TYPE = "upload_unknown_type"
    UPLOAD_WRONG_KIND = "upload_wrong_kind"
    SECOND_FACTOR_INVALID = "second_factor_invalid"


class ApplicationError(Exception):
    """A refusal the user can understand and act on; `status` is the HTTP status the API uses."""

    def __init__(self, message: str, *, code: str, status: int = 400, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = str(code)
        self.status = status
        self.extra = extra or {}


def not_found(what: str) -> ApplicationError:
    """The same 404 for "does not exist" and "belongs to someone else": no probing across tenants."""
    return ApplicationError(f"{what} not found.", code=CoreErrorCode.NOT_FOUND, status=404)
