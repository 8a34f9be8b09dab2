"""API permissions: members of a clinic only, privileged ones past their second factor; selectors
then narrow by role and tenant."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission


class IsClinicMember(BasePermission):
    message = "Sign in with an account of a clinic."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.clinic_id and user.role)


class SecondFactorPassed(BasePermission):
    """A privileged user's session counts only once its TOTP code was verified.

    An API token is issued to a privileged user only with a valid code, so a token request passes.
    A session request (no `request.auth`) is checked here as well as by the page middleware, because
    DRF tries the session before the token: whatever Authorization header the request carries, a
    half-signed-in session would otherwise be taken as its user.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if request.auth is not None or not getattr(user, "is_privileged", False):
            return True
        is_verified = getattr(user, "is_verified", None)
        if callable(is_verified) and is_verified():
            return True
        raise PermissionDenied("Pass the second factor first.", code="second_factor_required")
