"""Request middleware: second factor enforcement, request ids, and a strict content security policy."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from core.logging import request_id_var

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


class ContentSecurityPolicyMiddleware:
    """Everything is served from our own origin, so the policy can forbid all else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The interactive API docs (Swagger UI) need inline script; only that page gets it.
        if request.path.startswith("/api/docs/"):
            response.setdefault(
                "Content-Security-Policy",
                CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
                    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
                ),
            )
        else:
            response.setdefault("Content-Security-Policy", CSP)
        return response
