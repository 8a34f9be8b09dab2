"""Stopping the media jobs that depend on a likeness consent when it ends."""

from __future__ import annotations

from consent.hooks import ConsentEndEffect
from consent.models import LikenessConsent
from core.models import JobStatus, MediaJob
from core.services import job_request_cancel


def jobs_cancel_for_consent(consent: LikenessConsent, reason: str) -> list[ConsentEndEffect]:
    """Cancel queued and running jobs whose params name this consent (`likeness_consent`)."""
    job_ids = list(
        MediaJob.objects.filter(
            params__likeness_consent=str(consent.id), status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).values_list("id", flat=True)
    )
    if not job_ids:
        return []
    job_request_cancel(job_ids=job_ids)
    return [
        ConsentEndEffect("job.cancelled", "media_job", str(job_id), {"cause": "consent_ended"})
        for job_id in job_ids
    ]
