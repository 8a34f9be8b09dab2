"""Reads of consent records and the ledger, always scoped to the acting user's clinic and role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from consent.models import (
    ConsentText,
    DisclosureLabel,
    LedgerEntry,
    LikenessConsent,
    LikenessStatus,
    PatientConsent,
)
from consent.policy import can_view_compliance, is_clinic_staff, is_member
from core.models import Role, User


def likeness_consent_list(*, user: User) -> QuerySet[LikenessConsent]:
    """Clinicians see their own; admins and compliance officers see the clinic's; patients none."""
    if not is_clinic_staff(user):
        return LikenessConsent.objects.none()
    consents = LikenessConsent.objects.filter(clinic_id=user.member_clinic_id).select_related(
        "clinician", "signature", "text"
    )
    if not can_view_compliance(user):
        consents = consents.filter(clinician=user)
    return consents


def likeness_consent_current(*, clinician: User) -> LikenessConsent | None:
    """The clinician's latest consent that is not superseded."""
    return (
        LikenessConsent.objects.filter(clinician=clinician)
        .exclude(status="superseded")
        .select_related("signature", "text")
        .order_by("-created_at")
        .first()
    )


def clinicians_consenting(*, clinic_id: Any) -> set[int]:
    """Ids of the clinic's clinicians whose likeness consent is active now (the studio marks the
    material of everyone else as unusable)."""
    return set(
        LikenessConsent.objects.filter(clinic_id=clinic_id, status=LikenessStatus.ACTIVE).values_list(
            "clinician_id", flat=True
        )
    )


def patient_consent_list(*, user: User) -> QuerySet[PatientConsent]:
    """Patients see their own; clinic staff see the clinic's."""
    if not is_member(user):
        return PatientConsent.objects.none()
    consents = PatientConsent.objects.filter(clinic_id=user.member_clinic_id).select_related(
        "patient", "signature", "text"
    )
    if not is_clinic_staff(user):
        consents = consents.filter(patient=user)
    return consents


def consent_text_current(*, clinic_id: Any, kind: str, language: str = "en") -> ConsentText | None:
    return (
        ConsentText.objects.filter(clinic_id=clinic_id, kind=kind, language=language)
        .order_by("-version")
        .first()
    )


def consent_text_list(*, user: User) -> QuerySet[ConsentText]:
    if not is_member(user):
        return ConsentText.objects.none()
    return ConsentText.objects.filter(clinic_id=user.member_clinic_id)


def disclosure_label_current(*, clinic_id: Any, language: str = "en") -> DisclosureLabel | None:
    return DisclosureLabel.objects.filter(clinic_id=clinic_id, language=language).order_by("-version").first()


def disclosure_label_list(*, user: User) -> QuerySet[DisclosureLabel]:
    if not is_member(user):
        return DisclosureLabel.objects.none()
    return DisclosureLabel.objects.filter(clinic_id=user.member_clinic_id)


@dataclass(frozen=True)
class LedgerFilters:
    event_type: str = ""
    subject_id: str = ""  # clinician or patient id
    object_id: str = ""  # a consent, video or job id
    since: datetime | None = None
    until: datetime | None = None


def ledger_entry_list(*, user: User, filters: LedgerFilters | None = None) -> QuerySet[LedgerEntry]:
    """Entries of the user's clinic: all for oversight roles, those about themselves for others."""
    if not is_member(user):
        return LedgerEntry.objects.none()
    entries = LedgerEntry.objects.filter(clinic_id=user.clinic_id)
    if not can_view_compliance(user):
        entries = entries.filter(Q(subject_id=str(user.pk)) | Q(actor_id=str(user.pk)))
    f = filters or LedgerFilters()
    if f.event_type:
        entries = entries.filter(event_type__startswith=f.event_type)
    if f.subject_id:
        entries = entries.filter(subject_id=f.subject_id)
    if f.object_id:
        entries = entries.filter(Q(object_id=f.object_id) | Q(entry__contains=f.object_id))
    if f.since:
        entries = entries.filter(created_at__gte=f.since)
    if f.until:
        entries = entries.filter(created_at__lte=f.until)
    return entries.order_by("-seq")


def clinicians_of(*, user: User) -> QuerySet[User]:
    if not is_member(user):
        return User.objects.none()
    return User.objects.filter(clinic_id=user.member_clinic_id, role=Role.CLINICIAN).order_by("username")


def patients_of(*, user: User) -> QuerySet[User]:
    if not is_clinic_staff(user):
        return User.objects.none()
    return User.objects.filter(clinic_id=user.member_clinic_id, role=Role.PATIENT).order_by("username")


@dataclass(frozen=True)
class UseScope:
    """The uses a presenter may be put to: lower-case codes, as a likeness consent stores them."""

    topics: list[str]
    audiences: list[str]
    languages: list[str]
    channels: list[str]


#: What a clinic offers before any clinician has chosen a scope (the likeness form's examples).
SCOPE_STARTERS = UseScope(
    topics=["asthma", "diabetes", "vaccination"],
    audiences=["caregivers", "patients"],
    languages=["en"],
    channels=["portal", "waiting-room"],
)
_SCOPE_FIELDS = ("topics", "audiences", "languages", "channels")


def likeness_scope_active(*, clinician_id: Any) -> UseScope | None:
    """What the clinician's active likeness consent allows, or None when none is active."""
    consent = (
        LikenessConsent.objects.filter(clinician_id=clinician_id, status=LikenessStatus.ACTIVE)
        .order_by("-created_at")
        .first()
    )
    if consent is None:
        return None
    return UseScope(
        sorted(consent.topics), sorted(consent.audiences), sorted(consent.languages), sorted(consent.channels)
    )


def clinic_scope_vocabulary(*, clinic_id: Any) -> UseScope:
    """Every topic, audience, language and channel the clinic uses: the starters and whatever any of
    its clinicians ever consented to (a presenter who is no real person may take any of them)."""
    found: dict[str, set[str]] = {name: set(getattr(SCOPE_STARTERS, name)) for name in _SCOPE_FIELDS}
    rows = LikenessConsent.objects.filter(clinic_id=clinic_id).exclude(status=LikenessStatus.DRAFT)
    for row in rows.values(*_SCOPE_FIELDS):
        for name in _SCOPE_FIELDS:
            found[name].update(row[name] or [])
    return UseScope(*(sorted(found[name]) for name in _SCOPE_FIELDS))


def ledger_activity_by_day(
    *, user: User, filters: LedgerFilters | None = None, since: datetime
) -> list[tuple[date, str, int]]:
    """(UTC day, event type, number of entries) for the entries the user may see from `since` on,
    counted by the database (a busy ledger has hundreds of thousands of entries)."""
    rows = (
        ledger_entry_list(user=user, filters=filters)
        .filter(created_at__gte=since)
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "event_type")
        .annotate(count=Count("seq"))
    )
    return [(row["day"], row["event_type"], row["count"]) for row in rows]


def consent_state_counts(*, user: User) -> dict[str, dict[str, int]]:
    """How many of the clinic's likeness and patient consents are in each state, for oversight roles."""
    counts: dict[str, dict[str, int]] = {"likeness": {}, "patient": {}}
    if not can_view_compliance(user):
        return counts
    for name, consents in (
        ("likeness", likeness_consent_list(user=user)),
        ("patient", patient_consent_list(user=user)),
    ):
        for row in consents.order_by().values("status").annotate(count=Count("id")):
            counts[name][row["status"]] = row["count"]
    return counts
