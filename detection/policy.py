"""Who may use the impersonation scanner: the clinic's compliance officers and clinic admins."""

from __future__ import annotations

from core.errors import ApplicationError
from core.models import Role, User
from detection.errors import DetectionErrorCode

SCANNER_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.CLINIC_ADMIN})
#: Who receives the live and e-mail alerts of an alerting verdict.
ALERT_ROLES = frozenset({Role.COMPLIANCE_OFFICER})


def may_scan(user: User) -> bool:
    return bool(user.is_authenticated and user.clinic_id and user.role in SCANNER_ROLES)


def scanner_required(user: User) -> None:
    """Refuse anyone but a compliance officer or clinic admin of a clinic."""
    if not may_scan(user):
        raise ApplicationError(
            "Only compliance officers and clinic admins can use the impersonation scanner.",
            code=DetectionErrorCode.PERMISSION_DENIED,
            status=403,
        )
