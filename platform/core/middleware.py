"""Request middleware: request body limits (ASGI, before Django reads a body), second factor
enforcement, request ids, and a strict content security policy."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from core.errors import ApplicationError, CoreErrorCode
from core.logging import request_id_var
from core.ratelimit import forwarded_client, rate_limit_check

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Paths a privileged user may reach before passing the second factor.
_OPEN_PREFIXES = ("/account/", "/static/", "/verify/", "/health/", "/ready/", "/api/v1/auth/")

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class SecondFactorRequiredMiddleware:
    """Clinic admins and compliance officers get nothing until their TOTP code is verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = uuid.uuid4().hex[:16]
        request_id_var.set(request.headers.get("X-Request-ID", token)[:64])
        user = request.user
        needs_factor = (
            user.is_authenticated
            and getattr(user, "is_privileged", False)
            and not user.is_verified()
            # No header exempts a request: the user here comes from the session cookie, and DRF
            # also tries the session before any token, so a half-signed-in session stays one. A
            # token-only API call has no session and is authenticated (and checked) by DRF.
            and not request.path.startswith(_OPEN_PREFIXES)
        )
        if needs_factor:
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "message": "Pass the second factor first.",
                        "code": "second_factor_required",
                        "extra": {},
                    },
                    status=403,
                )
            return redirect("core:second_factor")
        response = self.get_response(request)
        response["X-Request-ID"] = request_id_var.get()
        return response


def _csp() -> str:
    """The policy, with the storage's origin allowed for media when signed links send media there."""
    origins = " ".join(settings.STORAGE_MEDIA_ORIGINS)
    if not origins:
        return CSP
    return CSP.replace("media-src 'self' blob:", f"media-src 'self' blob: {origins}").replace(
        "img-src 'self' data:", f"img-src 'self' data: {origins}"
    )


class ContentSecurityPolicyMiddleware:
    """Everything is served from our own origin (or, with signed media links, the bucket's), so the
    policy can forbid all else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = _csp()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The interactive API docs (Swagger UI) need inline script; only that page gets it.
        if request.path.startswith("/api/docs/"):
            response.setdefault(
                "Content-Security-Policy",
                self.policy.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
                    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
                ),
            )
        else:
            response.setdefault("Content-Security-Policy", self.policy)
        return response


class RequestBodyLimit:
    """ASGI wrapper around Django's handler that refuses request bodies before they are read.

    Django's ASGI handler reads the whole body into a temporary file before any Django middleware or
    view runs, so a limit checked there comes after the upload. Here a declared Content-Length over
    the limit, or a public path whose rate limit is used up, is answered without a single receive();
    a body sent without a length (chunked) is counted as it arrives and cut off at the limit. The
    limit depends on the path (REQUEST_UPLOAD_PATHS get the upload limit, others REQUEST_MAX_BYTES).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        headers = _headers(scope)
        is_upload = any(re.match(pattern, path) for pattern in settings.REQUEST_UPLOAD_PATHS)
        limit = (
            settings.UPLOAD_MAX_BYTES + settings.REQUEST_UPLOAD_MARGIN_BYTES
            if is_upload
            else settings.REQUEST_MAX_BYTES
        )
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await _refuse(send, path, _too_large(limit, is_upload=is_upload, size=declared))
            return
        if scope.get("method") == "POST":
            try:
                await sync_to_async(_rate_limit_precheck)(path, _client(scope, headers))
            except ApplicationError as exc:
                await _refuse(send, path, exc)
                return

        received = 0
        overflowed = False
        responded = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            if overflowed:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django treats a disconnect while reading as an aborted request and answers
                    # nothing, so the refusal below is the only response.
                    overflowed = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        await self.app(scope, limited_receive, tracked_send)
        if overflowed and not responded:
            await _refuse(send, path, _too_large(limit, is_upload=is_upload, size=None))


def _headers(scope: Scope) -> dict[str, str]:
    """Header values by lower-case name; repeated headers joined with commas, in order."""
    joined: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _content_length(headers: dict[str, str]) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None  # absent or malformed: the body is counted as it arrives instead


def _client(scope: Scope, headers: dict[str, str]) -> str:
    # The same address Django's client_address() derives from REMOTE_ADDR (the ASGI client).
    peer = scope.get("client")
    return forwarded_client(
        peer=str(peer[0]) if peer else "",
        forwarded_for=headers.get("x-forwarded-for", ""),
        trusted_proxies=settings.TRUSTED_PROXIES,
    )


def _rate_limit_precheck(path: str, client: str) -> None:
    for pattern, rule in settings.REQUEST_RATE_LIMITED_PATHS.items():
        if re.match(pattern, path):
            rate_limit_check(
                scope=rule["scope"],
                ident=client,
                limit=getattr(settings, rule["limit"]),
                window_seconds=getattr(settings, rule["window"]),
            )


def _megabytes(size: int) -> str:
    if size >= 10_000_000:
        return f"{size / 1e6:.0f} MB"
    return f"{size / 1e6:.1f} MB" if size >= 1_000_000 else f"{size / 1e3:.0f} kB"


def _too_large(limit: int, *, is_upload: bool, size: int | None) -> ApplicationError:
    sent = f"is {_megabytes(size)}" if size is not None else f"is larger than {_megabytes(limit)}"
    code: str
    if is_upload:
        message = f"The upload {sent}; files of at most {_megabytes(settings.UPLOAD_MAX_BYTES)} are accepted."
        code = CoreErrorCode.UPLOAD_TOO_LARGE
    else:
        message = f"The request {sent}; at most {_megabytes(limit)} are accepted here."
        code = "request_too_large"
    return ApplicationError(message, code=code, status=413, extra={"limit_bytes": limit})


async def _refuse(send: Send, path: str, error: ApplicationError) -> None:
    """Answer an ApplicationError without Django: JSON for the API, a plain page for browsers."""
    if path.startswith("/api/"):
        body = json.dumps({"message": error.message, "code": error.code, "extra": error.extra}).encode()
        content_type = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Request refused</title>'
            f"</head><body><h1>Request refused</h1><p>{html.escape(error.message)}</p></body></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"content-security-policy", b"default-src 'none'"),
                (b"x-content-type-options", b"nosniff"),
                # The unread body makes the connection unusable for another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
