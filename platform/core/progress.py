"""Live job progress: throttled writes to the job row plus a message to the job's websocket group.

Messages carry ids, status, stage names and numbers only, never names or file contents (no PHI).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from core.models import JobStatus, MediaJob

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a running job when someone cancelled it; the task turns it into `cancelled`."""


class JobSuperseded(JobCancelled):
    """Raised inside an attempt that no longer holds its job (another attempt claimed it, or it ended).

    A kind of cancellation, so engines stop the same way; the job itself is left to its holder.
    """


def job_refusal(job: MediaJob) -> JobCancelled:
    """Why a fenced write of `job`'s attempt matched nothing: a cancel, or a lost claim."""
    current = MediaJob.objects.filter(id=job.id).values("status", "attempts").first()
    if current == {"status": JobStatus.RUNNING, "attempts": job.attempts}:
        return JobCancelled(str(job.id))
    return JobSuperseded(f"{job.id} attempt {job.attempts}")


def job_group(job_id: uuid.UUID | str) -> str:
    return f"job.{job_id}"


def job_state_message(job: MediaJob) -> dict[str, Any]:
    """The websocket/API view of a job's progress.

    A running job whose worker went silent says so, with how long ago it was last heard from,
    instead of an ETA that stopped meaning anything.
    """
    stalled_seconds = job.stalled_seconds
    return {
        "type": "job.state",
        "job": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "percent": round(job.percent, 1),
        "eta_seconds": None if stalled_seconds is not None else job.eta_seconds,
        "stalled": stalled_seconds is not None,
        "stalled_seconds": stalled_seconds,
        "error_code": job.error_code or None,
        "error_message": job.error_message or None,
        "finished": job.is_finished,
    }


def job_broadcast(*, job_id: uuid.UUID | str) -> None:
    """Send the job's current row to its websocket group; a broken channel layer never fails a job."""
    job = MediaJob.objects.filter(id=job_id).first()
    if job is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            job_group(job.id), {"type": "job.state", "state": job_state_message(job)}
        )
    except Exception:  # noqa: BLE001 — progress is best effort; the row stays the source of truth
        logger.warning("job progress broadcast failed", extra={"job_id": str(job_id)}, exc_info=True)


class JobProgress:
    """The `progress(fraction, stage)` callback engines receive.

    Writes at most every JOB_PROGRESS_MIN_INTERVAL_SECONDS (and on every stage change), only while
    its attempt holds the job. Raises JobCancelled when a cancel was requested and JobSuperseded when
    another attempt took the job over. Progress also renews the heartbeat, but a job does not depend
    on it: core.jobs.JobHeartbeat keeps the job alive through stages that report nothing.
    """

    def __init__(self, job: MediaJob, *, start: float = 0.0, span: float = 1.0) -> None:
        self.job = job
        self.job_id = job.id
        self.start = start
        self.span = span
        self._began = time.monotonic()
        self._last_write = 0.0
        self._last_stage = ""
        self.min_interval = settings.JOB_PROGRESS_MIN_INTERVAL_SECONDS

    def __call__(self, fraction: float, stage: str) -> None:
        fraction = min(1.0, max(0.0, fraction))
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_write < self.min_interval and fraction < 1.0:
            return
        self._last_write, self._last_stage = now, stage
        overall = self.start + self.span * fraction
        elapsed = now - self._began
        eta = round(elapsed * (1 - overall) / overall) if overall > 0.02 else None
        updated = (
            MediaJob.objects.held_by(self.job)
            .filter(cancel_requested=False)
            .update(
                stage=stage[:64],
                percent=round(100 * overall, 1),
                eta_seconds=eta,
                heartbeat_at=timezone.now(),
            )
        )
        if not updated:
            raise job_refusal(self.job)
        job_broadcast(job_id=self.job_id)
