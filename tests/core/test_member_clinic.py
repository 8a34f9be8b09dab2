"""A user's clinic as clinic-scoped code reads it: a member's, never an operator's null clinic."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from core.models import Clinic, Role, User


def test_a_member_has_their_clinic() -> None:
    clinic = Clinic(name="Clinic alpha", slug="alpha")
    member = User(username="alpha-clinician", role=Role.CLINICIAN, clinic=clinic)
    assert member.member_clinic_id == clinic.id
    assert member.member_clinic is clinic


def test_an_operator_is_refused_clinic_scoped_work() -> None:
    operator = User(username="operator", is_superuser=True, is_staff=True)
    with pytest.raises(PermissionDenied):
        operator.member_clinic_id  # noqa: B018
    with pytest.raises(PermissionDenied):
        operator.member_clinic  # noqa: B018
