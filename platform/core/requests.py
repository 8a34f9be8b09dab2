"""The request types of views that only signed-in users reach, for annotations.

mypy cannot see what `login_required` or the API's permission classes guarantee, so a view says it
in its signature instead (the django-stubs recipe). Nothing creates these classes at run time.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from core.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """The request a `login_required` view receives: its user is signed in, never anonymous."""

    user: User


class AuthenticatedRequest(Request):
    """The request an API view behind `IsClinicMember` (the default permission) receives."""

    user: User
