"""API permissions: members of a clinic only; selectors then narrow by role and tenant."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsClinicMember(BasePermission):
    message = "Sign in with an account of a clinic."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.clinic_id and user.role)
