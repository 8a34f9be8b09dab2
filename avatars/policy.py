"""Who may do what in the avatar studio: one named rule per action, asked by pages, services and
selectors instead of comparing roles themselves, so that a rule changes in one place.

A rule is a predicate on the acting user (an object rule also takes the record). Which clinic a
record belongs to is not decided here: services and selectors scope every query to the actor's
clinic, and a record of another clinic is as missing as no record (404). The `*_required` helpers
turn a rule into the studio's refusal.
"""

from __future__ import annotations

from typing import Any

from avatars.errors import AvatarErrorCode
from core.errors import ApplicationError
from core.models import Role

# The roles that make videos: clinicians (their own likeness) and clinic admins (on a clinician's behalf).
STUDIO_ROLES = frozenset({Role.CLINICIAN, Role.CLINIC_ADMIN})

STUDIO_REFUSAL = "Only clinicians and clinic admins work in the studio."


def _role(user: Any) -> str:
    # An anonymous visitor has no role attribute; a platform operator has an empty role.
    return getattr(user, "role", "") or ""


def _member(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "clinic_id", None))


def can_use_studio(user: Any) -> bool:
    """Enrollments, scripts, renders and publication of the clinic: clinicians and clinic admins."""
    return _member(user) and _role(user) in STUDIO_ROLES


def can_enroll_for_others(user: Any) -> bool:
    """Enroll material for another clinician of the clinic (who must sign it off before it is used)."""
    return _member(user) and _role(user) == Role.CLINIC_ADMIN


def can_enroll(user: Any, clinician: Any) -> bool:
    """Enroll `clinician`'s likeness: one's own as a clinician, any clinician's as a clinic admin."""
    if not can_use_studio(user) or _role(clinician) != Role.CLINICIAN:
        return False
    return bool(user.pk == clinician.pk or can_enroll_for_others(user))


def can_present(user: Any) -> bool:
    """A clinician presents scripts: their own likeness, or a stock-presenter script they write and approve."""
    return _member(user) and _role(user) == Role.CLINICIAN


def can_sign_off_enrollment(user: Any, enrollment: Any) -> bool:
    """Only the clinician shown approves material someone else enrolled for them."""
    return _member(user) and user.pk == enrollment.clinician_id


def can_delete_enrollment(user: Any, enrollment: Any) -> bool:
    """Destroy an enrollment's biometric data: the clinician shown, or a clinic admin on their behalf
    (a clinician who left cannot do it themselves)."""
    if not can_use_studio(user):
        return False
    return bool(user.pk == enrollment.clinician_id or can_enroll_for_others(user))


def can_approve_script(user: Any, script: Any) -> bool:
    """Only the clinician who presents (or, for the stock presenter, owns) a script approves it."""
    return _member(user) and user.pk == script.clinician_id


def can_review_video(user: Any, video: Any) -> bool:
    """Only the clinician who presents a video reviews the rendered result."""
    return _member(user) and user.pk == video.script.clinician_id


def watches_as_patient(user: Any) -> bool:
    """A patient sees a video only through the viewer, and only what was published to them."""
    return _member(user) and _role(user) == Role.PATIENT


def sees_own_likeness_videos(user: Any) -> bool:
    """A clinician's list of every video ever made with their likeness."""
    return _member(user) and _role(user) == Role.CLINICIAN


def studio_required(user: Any) -> None:
    """Refuse (403) anyone who may not use the studio."""
    if not can_use_studio(user):
        raise ApplicationError(STUDIO_REFUSAL, code=AvatarErrorCode.PERMISSION_DENIED, status=403)


def require(allowed: bool, message: str) -> None:
    """Refuse (403) with `message` when an object rule says no."""
    if not allowed:
        raise ApplicationError(message, code=AvatarErrorCode.PERMISSION_DENIED, status=403)


# --- patient anonymization ---------------------------------------------------------------------------
# Records are scoped to the actor's clinic by avatars.selectors.anonymization_list; these rules decide
# within the clinic. The original recording shows the patient: only the clinician who uploaded it and
# the clinic's admins ever see it (never other clinicians, compliance officers or patients).


def can_anonymize(user: Any) -> bool:
    """Upload a consultation for anonymization: clinicians and clinic admins."""
    return can_use_studio(user)


def can_review_anonymization(user: Any, anonymization: Any) -> bool:
    """Review (side by side with the original), approve, publish: the uploader and clinic admins."""
    if not can_use_studio(user):
        return False
    return bool(user.pk == anonymization.created_by_id or _role(user) == Role.CLINIC_ADMIN)


def sees_anonymization_original(user: Any, anonymization: Any) -> bool:
    """The original recording (its preview): exactly the reviewers."""
    return can_review_anonymization(user, anonymization)


def sees_anonymization_output(user: Any, anonymization: Any) -> bool:
    """The anonymized output and its report: the reviewers, compliance officers, the patient shown,
    and, once it is published for teaching, the clinic's clinicians."""
    if not _member(user):
        return False
    role = _role(user)
    if can_review_anonymization(user, anonymization) or role == Role.COMPLIANCE_OFFICER:
        return True
    if role == Role.PATIENT:
        return bool(user.pk == anonymization.patient_id)
    return role == Role.CLINICIAN and anonymization.status == "published"
