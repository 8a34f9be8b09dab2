"""Reads of the impersonation scanner, always scoped to the acting user's clinic and role."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.errors import not_found
from core.models import User
from detection.models import ImpersonationCase, Scan
from detection.policy import may_scan


def scan_list(*, user: User) -> QuerySet[Scan]:
    if not may_scan(user):
        return Scan.objects.none()
    return Scan.objects.filter(clinic_id=user.member_clinic_id).select_related(
        "matched_clinician", "job", "uploaded_by"
    )


def scan_get(*, user: User, scan_id: Any) -> Scan:
    try:
        return scan_list(user=user).prefetch_related("evidence", "cases").get(id=scan_id)
    except (Scan.DoesNotExist, ValueError, TypeError):
        raise not_found("Scan") from None


def case_list(*, user: User) -> QuerySet[ImpersonationCase]:
    if not may_scan(user):
        return ImpersonationCase.objects.none()
    return ImpersonationCase.objects.filter(clinic_id=user.member_clinic_id).select_related(
        "scan", "scan__matched_clinician", "dicom_study", "opened_by", "reviewer"
    )


def case_get(*, user: User, case_id: Any) -> ImpersonationCase:
    try:
        return case_list(user=user).get(id=case_id)
    except (ImpersonationCase.DoesNotExist, ValueError, TypeError):
        raise not_found("Case") from None
