"""Who may do what in the consent app: one named rule per action, asked by pages, the API, services
and selectors instead of comparing roles themselves, so that a rule changes in one place.

A rule is a predicate on the acting user (an object rule also takes the record). Which clinic a record
belongs to is not decided here: services and selectors scope every query to the actor's clinic, and a
record of another clinic is as missing as no record (404), so nobody can probe across clinics.
"""

from __future__ import annotations

from typing import Any

from consent.errors import ConsentErrorCode
from consent.models import LikenessConsent
from core.errors import ApplicationError
from core.models import Role

# The roles that oversee the clinic's consents: they see every record and the whole ledger.
OVERSIGHT_ROLES = frozenset({Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER})

# The services' refusal when a role may not act; pages and the API say which role may.
ROLE_REFUSAL = "Your role cannot do this."


def _role(user: Any) -> str:
    # An anonymous visitor has no role attribute; a platform operator has an empty role.
    return getattr(user, "role", "") or ""


def is_member(user: Any) -> bool:
    """Signed in, in a clinic and with a role: the least anyone needs to see a consent record."""
    return bool(user.is_authenticated and getattr(user, "clinic_id", None) and _role(user))


def is_clinic_staff(user: Any) -> bool:
    """A member who is not a patient: sees likeness consents (a clinician only their own), the
    clinic's patient consents and its list of patients."""
    return is_member(user) and _role(user) != Role.PATIENT


def can_manage_texts(user: Any) -> bool:
    """Publish consent texts and disclosure labels, and use the consent admin page."""
    return _role(user) == Role.CLINIC_ADMIN


def can_verify_likeness_consents(user: Any) -> bool:
    """Verify a clinician's recorded consent statement by hand."""
    return _role(user) == Role.CLINIC_ADMIN


def can_record_departures(user: Any) -> bool:
    """Record a clinician's departure or death, which ends their likeness consents."""
    return _role(user) == Role.CLINIC_ADMIN


def can_give_likeness_consent(user: Any) -> bool:
    """Sign a likeness consent and record the consent statement: one's own likeness only."""
    return _role(user) == Role.CLINICIAN


def can_revoke_likeness_consent(user: Any, consent: LikenessConsent) -> bool:
    """Only the clinician whose likeness it is revokes; a clinic admin records a departure instead."""
    return bool(user.is_authenticated) and user.pk == consent.clinician_id


def can_give_patient_consent(user: Any) -> bool:
    """Grant (and withdraw) consents about one's own consultations."""
    return _role(user) == Role.PATIENT


def can_view_compliance(user: Any) -> bool:
    """The compliance console, clinician timelines, the accounting of disclosures, ledger
    verification, and every consent and ledger entry of the clinic (others see their own)."""
    return _role(user) in OVERSIGHT_ROLES


def can_export_evidence(user: Any) -> bool:
    """Download consent evidence (each export is recorded as a disclosure)."""
    return _role(user) in OVERSIGHT_ROLES


def require(
    allowed: bool, message: str = ROLE_REFUSAL, *, code: ConsentErrorCode = ConsentErrorCode.NOT_ALLOWED
) -> None:
    """Refuse with 403 unless a rule allowed the action: `require(can_manage_texts(actor))`."""
    if not allowed:
        raise ApplicationError(message, code=code, status=403)
