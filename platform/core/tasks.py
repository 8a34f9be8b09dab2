"""Celery tasks of the shared kernel: thin wrappers that take ids and call services."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.job_kinds import job_failure_record, job_kind_get
from core.jobs import (
    job_execute,
    job_outputs_discard,
    output_store,
    scratch_sweep,
    upload_fetch,
)
from core.media.proxy import ProxySpec, make_proxy
from core.models import JobStatus, MediaJob
from core.progress import JobProgress, job_broadcast


def _video_proxy_work(job: MediaJob, progress: JobProgress, scratch: Path) -> dict[str, Any]:
    assert job.input_upload is not None
    progress(0.0, "fetching")
    source = upload_fetch(upload=job.input_upload, scratch=scratch)
    result = make_proxy(
        ProxySpec(source=source, video_out=scratch / "proxy.mp4", poster_out=scratch / "poster.jpg"), progress
    )
    progress(1.0, "storing")
    return {
        "video": output_store(job=job, name="proxy.mp4", path=result.video_path),
        "poster": output_store(job=job, name="poster.jpg", path=result.poster_path),
        "width": result.width,
        "height": result.height,
        "fps": round(result.fps, 3),
        "frames": result.frames,
        "duration_seconds": round(result.duration_seconds, 3),
        "has_audio": result.has_audio,
    }


@shared_task(acks_late=True, reject_on_worker_lost=True)
def video_proxy_run(job_id: str) -> None:
    """Convert an uploaded video into a browser-playable proxy and poster."""
    job_execute(job_id=job_id, work=_video_proxy_work)


@shared_task
def jobs_requeue_stalled() -> int:
    """Re-send jobs whose worker vanished (no heartbeat within the lease) or whose message was lost.

    Re-sending is safe: the claim lets only one delivery run a job, as a new attempt whose number
    fences out the old one. A stalled job out of attempts fails; one whose cancel was asked ends
    cancelled. Returns how many jobs were re-sent or ended.
    """
    now = timezone.now()
    stale = Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=settings.JOB_LEASE_SECONDS))
    resend = now - timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
    # A queued job's heartbeat_at is when its message was last (re)sent, so a long backlog is
    # re-sent once per interval, not at every check.
    lost_message = Q(status=JobStatus.QUEUED, created_at__lt=resend) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=resend)
    )
    stalled = list(
        MediaJob.objects.filter(
            stale | lost_message, attempts__lt=settings.JOB_MAX_ATTEMPTS, cancel_requested=False
        ).values_list("id", "kind", "queue", "status")
    )
    for job_id, kind, queue, _ in stalled:
        job_kind_get(kind).task.apply_async(args=(str(job_id),), queue=queue)
    MediaJob.objects.filter(
        id__in=[job_id for job_id, *_, status in stalled if status == JobStatus.QUEUED],
        status=JobStatus.QUEUED,
    ).update(heartbeat_at=now)
    ended = 0
    for job in MediaJob.objects.filter(stale).filter(
        Q(attempts__gte=settings.JOB_MAX_ATTEMPTS) | Q(cancel_requested=True)
    ):
        ended += _job_abandon(job, now=now)
    scratch_sweep()
    return len(stalled) + ended


def _job_abandon(job: MediaJob, *, now: datetime) -> int:
    """End a job whose worker is gone for good, with its domain side; 0 if its worker came back meanwhile."""
    fields: dict[str, Any]
    if job.cancel_requested:
        code, fields = "cancelled", {"status": JobStatus.CANCELLED, "stage": "cancelled"}
    else:
        code = "worker_lost"
        fields = {
            "status": JobStatus.FAILED,
            "stage": "failed",
            "error_code": code,
            "error_message": "The worker running this job stopped repeatedly; please try again later.",
        }
    with transaction.atomic():
        # Fenced like a worker's own write: same attempt, and no heartbeat since the check read it.
        ended = (
            MediaJob.objects.held_by(job)
            .filter(heartbeat_at=job.heartbeat_at)
            .update(**fields, eta_seconds=None, finished_at=now)
        )
        if ended:
            job_failure_record(job, code)
    if ended:
        job_outputs_discard(job_id=job.id, everything=True)
        job_broadcast(job_id=job.id)
    return ended
