"""Avatar studio tasks: each claims its job (through the kernel's job_execute) and calls one service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task

from avatars.services import (
    anonymization_job_failed,
    anonymize_run,
    biometrics_expire,
    enrollment_analysis_run,
    render_failed,
    render_run,
    statement_check_run,
)
from core.jobs import JobOutcome, job_execute
from core.models import MediaJob
from core.progress import JobCancelled, JobProgress


def _engine_progress(progress: JobProgress, start: float, span: float) -> Any:
    """The engine's progress callback for the job's share from `start` over `span`."""
    from avatars.engine import RenderCancelled

    def report(fraction: float, stage: str) -> None:
        try:
            progress(start + span * fraction, stage)
        except JobCancelled as exc:
            # The engine turns unexpected exceptions into failures; its own cancel type stops it cleanly.
            raise RenderCancelled("The render was cancelled.") from exc

    return report


def _enrollment_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    return enrollment_analysis_run(job=job, scratch=scratch, report=_engine_progress(progress, 0.0, 0.95))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def enrollment_analyze(job_id: str) -> None:
    """Analyse a clinician's enrollment footage (quality checks, mouth shapes, idle loop)."""
    job_execute(job_id=job_id, work=_enrollment_work)


def _statement_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    return statement_check_run(job=job, scratch=scratch, report=_engine_progress(progress, 0.0, 0.95))


@shared_task(acks_late=True, reject_on_worker_lost=True)
def statement_check(job_id: str) -> None:
    """Check a consent statement's face, voice and liveness against the enrolled likeness."""
    job_execute(job_id=job_id, work=_statement_work)


def _render_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    return render_run(
        job=job, progress=progress, scratch=scratch, report=_engine_progress(progress, 0.0, 0.85)
    )


def render_job_failed(job: MediaJob, code: str) -> None:
    """A failed, cancelled or abandoned render job fails its video (the render kind's failure hook)."""
    if "video" in job.params:  # a job row made without a video (tests' doubles) has nothing to fail
        render_failed(video_id=job.params["video"], code=code)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def video_render(job_id: str) -> None:
    """Render, disclose, sign and store one avatar video."""
    job_execute(job_id=job_id, work=_render_work)


def _anonymize_progress(progress: JobProgress) -> Any:
    """The anonymization engine's callback, on the job's first 75%.

    A cancel raises the kernel's JobCancelled from here; the engine deletes its partial output and
    lets whatever the callback raised through, so the kernel ends the job as cancelled.
    """

    def report(fraction: float, stage: str) -> None:
        progress(0.75 * fraction, stage)

    return report


def _anonymize_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    return anonymize_run(job=job, progress=progress, scratch=scratch, report=_anonymize_progress(progress))


def anonymize_job_failed(job: MediaJob, code: str) -> None:
    """A failed, cancelled or abandoned anonymize job fails (or cancels) its record (the kind's failure hook)."""
    cancelled = MediaJob.objects.filter(id=job.id, cancel_requested=True).exists()
    anonymization_job_failed(anonymization_id=job.params["anonymization"], code=code, cancelled=cancelled)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def anonymize(job_id: str) -> None:
    """Anonymize one consultation recording (patient replaced, clinician kept), sign and store it."""
    job_execute(job_id=job_id, work=_anonymize_work)


@shared_task
def biometric_data_expire() -> int:
    """Destroy the biometric data of enrollments past their retention date (daily, beat)."""
    return biometrics_expire()
