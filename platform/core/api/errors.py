"""One error format for the whole API: {"message", "code", "extra"}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import RETRY_AFTER_SECONDS, ApplicationError, CoreErrorCode, is_infrastructure_fault

logger = logging.getLogger(__name__)


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    return str(detail)


def error_body(message: str, code: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, "code": str(code), "extra": extra or {}}


def unhandled_error(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for an exception no code handled; it names nothing internal.

    An unreachable database, Redis or broker is a 503 the client may retry after a few seconds;
    anything else is a 500 (a fault of ours, in the server log with its traceback).
    """
    if is_infrastructure_fault(exc):
        body = error_body(
            "A service Candor depends on is briefly unavailable. Please try again in a few seconds.",
            CoreErrorCode.SERVICE_UNAVAILABLE,
            {"retry_after_seconds": RETRY_AFTER_SECONDS},
        )
        return 503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    body = error_body("Something went wrong on our side; it has been logged.", CoreErrorCode.SERVER_ERROR)
    return 500, body, {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render ApplicationError, DRF's own errors and infrastructure faults in the project's format."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.code, exc.extra), status=exc.status)
    if is_infrastructure_fault(exc):
        # Logged here because the response replaces Django's own error logging for this request.
        logger.error("api.service_unavailable", exc_info=exc)
        set_rollback()
        status, body, headers = unhandled_error(exc)
        return Response(body, status=status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(_first_message(exc.detail), "invalid_input", {"fields": exc.detail})
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = error_body(str(detail), str(code))
    response.data = body
    return response
