"""Celery tasks of the shared kernel: thin wrappers that take ids and call services."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.jobs import job_execute, output_store, upload_fetch
from core.models import JobKind, JobStatus, MediaJob
from core.progress import JobProgress


def _video_proxy_work(job: MediaJob, progress: JobProgress, scratch: Path) -> dict[str, Any]:
    from core.media.proxy import ProxySpec, make_proxy

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
    """Re-send jobs whose worker vanished (lease lapsed) or whose message was lost (queued too long).

    Re-sending is safe: the claim lets only one delivery run a job.
    """
    stale = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    stalled = MediaJob.objects.filter(
        Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=JobStatus.QUEUED, created_at__lt=stale),
        attempts__lt=settings.JOB_MAX_ATTEMPTS,
        cancel_requested=False,
    ).values_list("id", "kind", "queue")
    count = 0
    for job_id, kind, queue in stalled:
        task_for_kind(kind).apply_async(args=[str(job_id)], queue=queue)
        count += 1
    exhausted = MediaJob.objects.filter(
        status=JobStatus.RUNNING, heartbeat_at__lt=stale, attempts__gte=settings.JOB_MAX_ATTEMPTS
    ).update(
        status=JobStatus.FAILED,
        stage="failed",
        error_code="worker_lost",
        error_message="The worker running this job stopped repeatedly; please try again later.",
        finished_at=timezone.now(),
    )
    return count + exhausted


_TASKS: dict[str, Task] = {JobKind.VIDEO_PROXY: video_proxy_run}


def task_register(kind: str, task: Task) -> None:
    """Apps register the task that runs their job kind (in AppConfig.ready)."""
    _TASKS[kind] = task


def task_for_kind(kind: str) -> Task:
    return _TASKS[kind]
