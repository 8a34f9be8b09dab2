"""Everything the impersonation scanner plugs into the kernel, in one place."""

from __future__ import annotations

from core.job_kinds import job_kind_register
from detection.engine.errors import DetectionError, ScanCancelled
from detection.models import DetectionJobKind
from detection.services.scans import scan_job_failed
from detection.tasks import scan_run


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
