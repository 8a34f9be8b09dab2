"""Everything the impersonation scanner plugs into the kernel, in one place."""

from __future__ import annotations

from typing import Any

from avatars.services import enrollment_deletion_handler_register
from avatars.services.statement_manipulation import statement_analyzer_register
from core.home import HomePanel, home_panel_register
from core.job_kinds import job_kind_register
from core.models import Role, User
from detection.alerts import alerts_of
from detection.engine.errors import DetectionError, ScanCancelled
from detection.gallery import gallery_templates_forget
from detection.models import ALERTING_VERDICTS, DICOM_ALERTING_VERDICTS, DetectionJobKind, DicomJobKind
from detection.selectors import scan_list
from detection.selectors_dicom import dicom_study_list
from detection.services.dicom import dicom_job_failed
from detection.services.scans import scan_job_failed
from detection.services.statement_analysis import statement_manipulation_analyze
from detection.tasks import scan_run
from detection.tasks_dicom import dicom_check_run, dicom_examine_run, dicom_ingest_run


def _alerts_home_context(user: User) -> dict[str, Any]:
    scans = scan_list(user=user).filter(verdict_kind__in=ALERTING_VERDICTS).order_by("-finished_at")[:5]
    studies = (
        dicom_study_list(user=user).filter(verdict__in=DICOM_ALERTING_VERDICTS).order_by("-finished_at")[:5]
    )
    return {"alerts": alerts_of(scans, studies)[::-1][:5]}


def register() -> None:
    """Called once by DetectionConfig.ready."""
    job_kind_register(
        DetectionJobKind.SCAN,
        task=scan_run,
        label=DetectionJobKind.SCAN.label,
        on_failure=scan_job_failed,
        cancellation_errors=(ScanCancelled,),
        user_facing_errors=(DetectionError,),
    )
    # Compliance officers see the latest alerts on their home page, and new ones arrive live.
    home_panel_register(
        HomePanel(
            role=Role.COMPLIANCE_OFFICER, template="detection/_home_alerts.html", context=_alerts_home_context
        )
    )
    # The studio's consent statement check runs the manipulation analyzers (the studio cannot import
    # the scanner, which sits above it).
    statement_analyzer_register(statement_manipulation_analyze)
    # A deleted enrollment's face and voice templates leave the scanner's gallery cache with it.
    enrollment_deletion_handler_register(gallery_templates_forget)
    # Medical images (DICOM): ingest signs every valid instance, a check compares a later copy, an
    # examination looks for tampering evidence in a study that was never signed.
    for kind, task in (
        (DicomJobKind.INGEST, dicom_ingest_run),
        (DicomJobKind.CHECK, dicom_check_run),
        (DicomJobKind.EXAMINE, dicom_examine_run),
    ):
        job_kind_register(
            kind,
            task=task,
            label=kind.label,
            on_failure=dicom_job_failed,
            user_facing_errors=(DetectionError,),
        )
