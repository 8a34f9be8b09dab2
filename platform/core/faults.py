"""Exceptions nothing else handled, answered in a form the client can use.

An API never answers HTML: under /api/ an unhandled exception becomes the API error format, a 503
with Retry-After when a backing service (database, Redis, broker) is unreachable and a 500 that names
nothing internal otherwise, and Django's own HTML error pages (a URL that matches no route) become
the same format with their status. A page whose backing service is unreachable gets a plain 503 page (it
cannot use the site layout, which reads the signed-in user from the database); other page errors are
left to Django.

Django converts an exception into its debug or error page inside every middleware layer, so an
exception raised by another middleware (the session or the signed-in user read from a database that
went away) never reaches `process_exception`. Django sends `got_request_exception` before it builds
that page; the receiver below notes the exception on the request, and `__call__` replaces the page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api.errors import error_body, unhandled_error
from core.errors import RETRY_AFTER_SECONDS, CoreErrorCode, is_infrastructure_fault

logger = logging.getLogger(__name__)

_NOTED = "_candor_unhandled_exception"


@receiver(got_request_exception, dispatch_uid="core.faults.note_exception")
def _note_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Receivers run inside Django's `except` block, so the exception is the one being handled.
    exc = sys.exc_info()[1]
    if request is not None and exc is not None:
        setattr(request, _NOTED, exc)


_HTTP_CODES = {
    400: CoreErrorCode.INVALID_INPUT,
    403: CoreErrorCode.PERMISSION_DENIED,
    404: CoreErrorCode.NOT_FOUND,
    500: CoreErrorCode.SERVER_ERROR,
}


def _is_html_api_error(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        request.path_info.startswith("/api/")
        and response.status_code >= 400
        and str(response.get("Content-Type", "")).startswith("text/html")
    )


def fault_response(request: HttpRequest, exc: BaseException) -> HttpResponse | None:
    """The answer for an unhandled `exc`, or None to leave it to Django (a page's own bug)."""
    if request.path_info.startswith("/api/"):
        status, body, headers = unhandled_error(exc)
        return JsonResponse(body, status=status, headers=headers)
    if is_infrastructure_fault(exc):
        return HttpResponse(
            render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS}),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return None


class FaultResponseMiddleware:
    """Place it above every middleware that may touch the database or the cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        exc = getattr(request, _NOTED, None)
        if exc is not None and response.status_code >= 500:
            response = fault_response(request, exc) or response
        if _is_html_api_error(request, response):
            # Django's own error pages (an /api/ URL that matches no route, an error without an
            # exception) in the API's format; the status stays.
            body = error_body(f"{response.reason_phrase}.", _HTTP_CODES.get(response.status_code, "error"))
            return JsonResponse(body, status=response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        response = fault_response(request, exception)
        if response is not None:
            # Django logs the traceback only of exceptions it handles itself.
            logger.error("request.unhandled_exception", exc_info=exception)
        return response
