"""The one application error, rendered by the API as {"message", "code", "extra"}."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError


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
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"


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


# Seconds a client is told to wait (Retry-After) when a service Candor depends on is unreachable:
# a database failover or a Redis restart typically takes a few seconds.
RETRY_AFTER_SECONDS = 5

# Faults of the services around Candor, not of the request or the code: the database connection
# (Django wraps every driver's error in these two), Redis as cache and channel layer, and the Celery
# broker (kombu raises OperationalError when it cannot publish). They are answered 503 "try again".
_INFRASTRUCTURE_FAULTS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def is_infrastructure_fault(exc: BaseException) -> bool:
    """Whether `exc` means a backing service is unreachable, so the same request may succeed later."""
    return isinstance(exc, _INFRASTRUCTURE_FAULTS)
