"""Compliance cases: open on a scan or on a DICOM study, review, close with an outcome, record a
takedown notice.

Each step is one ledger entry in the same transaction as the change (`scan_case.*` for a scan's case,
`dicom_case.*` for a DICOM study's).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.ledger import ledger_append
from core.errors import ApplicationError
from core.models import User
from detection.errors import DetectionErrorCode
from detection.models import CaseOutcome, CaseStatus, DicomVerdict, ImpersonationCase, ScanStatus
from detection.policy import scanner_required
from detection.selectors import case_get, scan_get
from detection.selectors_dicom import dicom_study_get


def _append(case: ImpersonationCase, actor: User, event: str, data: dict[str, Any]) -> None:
    if case.scan is None:
        ledger_append(
            event_type=f"dicom_case.{event}",
            clinic_id=case.clinic_id,
            object_type="impersonation_case",
            object_id=case.id,
            actor=actor,
            data={"dicom_study": str(case.dicom_study_id), **data},
        )
        return
    ledger_append(
        event_type=f"scan_case.{event}",
        clinic_id=case.clinic_id,
        object_type="impersonation_case",
        object_id=case.id,
        actor=actor,
        subject=case.scan.matched_clinician,
        data={"scan": str(case.scan_id), **data},
    )


def _transition_refused(case: ImpersonationCase, action: str) -> ApplicationError:
    return ApplicationError(
        f"A case that is {case.get_status_display().lower()} cannot be {action}.",
        code=DetectionErrorCode.CASE_INVALID_TRANSITION,
        status=409,
    )


@transaction.atomic
def case_open(*, actor: User, scan_id: Any, notes: str = "") -> ImpersonationCase:
    """Open a case on a finished scan; a scan has at most one case that is not closed."""
    scanner_required(actor)
    scan = scan_get(user=actor, scan_id=scan_id)
    if scan.status != ScanStatus.DONE:
        raise ApplicationError(
            "A case can be opened once the scan has a verdict.",
            code=DetectionErrorCode.SCAN_NOT_FINISHED,
            status=409,
        )
    if scan.cases.exclude(status=CaseStatus.CLOSED).exists():
        raise ApplicationError(
            "This scan already has an open case.", code=DetectionErrorCode.CASE_ALREADY_OPEN, status=409
        )
    case = ImpersonationCase.objects.create(
        clinic_id=actor.member_clinic_id, scan=scan, opened_by=actor, notes=notes
    )
    _append(case, actor, "opened", {"verdict": scan.verdict_kind})
    return case


#: DICOM verdicts a case can be opened on: a reading that is done (not refused) whatever it found, as a
#: scan's case can be opened on any verdict (a clean result may still be disputed).
DICOM_CASE_VERDICTS = frozenset(set(DicomVerdict) - {DicomVerdict.REFUSED})


@transaction.atomic
def dicom_case_open(*, actor: User, study_id: Any, notes: str = "") -> ImpersonationCase:
    """Open a case on a DICOM study with a verdict (a check or an examination, or a signed study); a
    study has at most one case that is not closed."""
    scanner_required(actor)
    study = dicom_study_get(user=actor, study_id=study_id)
    if study.status != ScanStatus.DONE or study.verdict not in DICOM_CASE_VERDICTS:
        raise ApplicationError(
            "A case can be opened once the study has a verdict.",
            code=DetectionErrorCode.SCAN_NOT_FINISHED,
            status=409,
        )
    if study.cases.exclude(status=CaseStatus.CLOSED).exists():
        raise ApplicationError(
            "This study already has an open case.", code=DetectionErrorCode.CASE_ALREADY_OPEN, status=409
        )
    case = ImpersonationCase.objects.create(
        clinic_id=actor.member_clinic_id, dicom_study=study, opened_by=actor, notes=notes
    )
    _append(case, actor, "opened", {"verdict": study.verdict})
    return case


def _locked(actor: User, case_id: Any) -> ImpersonationCase:
    scanner_required(actor)
    case = case_get(user=actor, case_id=case_id)
    return (
        ImpersonationCase.objects.select_for_update(of=("self",))
        .select_related("scan", "dicom_study")
        .get(id=case.id)
    )


@transaction.atomic
def case_review(*, actor: User, case_id: Any, notes: str = "") -> ImpersonationCase:
    """Take an open case under review (the actor becomes its reviewer)."""
    case = _locked(actor, case_id)
    if case.status != CaseStatus.OPEN:
        raise _transition_refused(case, "taken under review")
    case.status, case.reviewer = CaseStatus.UNDER_REVIEW, actor
    if notes:
        case.notes = f"{case.notes}\n{notes}".strip()
    case.save()
    _append(case, actor, "review_started", {})
    return case


@transaction.atomic
def case_takedown_record(*, actor: User, case_id: Any, platform: str, url: str) -> ImpersonationCase:
    """Record the takedown notice of a case under review: the platform it is addressed to and the URL."""
    case = _locked(actor, case_id)
    if case.status != CaseStatus.UNDER_REVIEW:
        raise _transition_refused(case, "given a takedown notice")
    platform, url = platform.strip(), url.strip()
    if not platform or not url:
        raise ApplicationError(
            "Name the platform and the address of the content to take down.",
            code=DetectionErrorCode.TAKEDOWN_INCOMPLETE,
        )
    case.takedown_platform, case.takedown_url = platform[:120], url[:500]
    case.takedown_recorded_at = timezone.now()
    case.save()
    _append(case, actor, "takedown_recorded", {"platform": case.takedown_platform})
    return case


@transaction.atomic
def case_close(*, actor: User, case_id: Any, outcome: str, notes: str = "") -> ImpersonationCase:
    """Close a case under review with its outcome."""
    case = _locked(actor, case_id)
    if case.status != CaseStatus.UNDER_REVIEW:
        raise _transition_refused(case, "closed")
    if outcome not in CaseOutcome.values:
        raise ApplicationError(
            f"Unknown outcome {outcome!r}; one of: {', '.join(CaseOutcome.values)}.",
            code=DetectionErrorCode.INVALID_INPUT,
        )
    case.status, case.outcome, case.closed_at = CaseStatus.CLOSED, outcome, timezone.now()
    if notes:
        case.notes = f"{case.notes}\n{notes}".strip()
    case.save()
    _append(case, actor, "closed", {"outcome": outcome})
    return case


def case_takedown_pdf(*, actor: User, case_id: Any) -> bytes:
    """The takedown notice of a case with a recorded notice, as a PDF addressed to the platform."""
    from detection.takedown import TakedownNotice, takedown_pdf

    scanner_required(actor)
    case = case_get(user=actor, case_id=case_id)
    if case.takedown_recorded_at is None:
        raise ApplicationError(
            "Record the platform and address of the content first.",
            code=DetectionErrorCode.TAKEDOWN_INCOMPLETE,
            status=409,
        )
    scan, study = case.scan, case.dicom_study
    if scan is not None:
        clinician = scan.matched_clinician.printed_name if scan.matched_clinician else ""
        verdict, sha256, file_name = scan.headline, scan.sha256, scan.original_name
        explanation = tuple(scan.explanation[:1])
    else:
        assert study is not None  # the database's check: exactly one subject
        clinician, verdict, sha256 = "", study.headline, study.sha256
        file_name, explanation = f"DICOM study {study.id}", ()
    return takedown_pdf(
        TakedownNotice(
            clinic_name=case.clinic.name,
            clinic_email=case.clinic.contact_email,
            platform=case.takedown_platform,
            url=case.takedown_url,
            clinician=clinician,
            verdict=verdict,
            sha256=sha256,
            file_name=file_name,
            explanation=explanation,
            case_id=str(case.id),
            signed_by=actor.printed_name,
            date=case.takedown_recorded_at,
        )
    )
