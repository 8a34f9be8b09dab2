"""Running a claimed job: scratch directory, inputs copied in, outputs stored under fixed keys.

Every media task is a thin wrapper around `job_execute`, so they all claim, report, cancel and fail
the same way, and a worker never dies on a bad file.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files import File
from django.core.files.storage import default_storage

from core.errors import ApplicationError
from core.media.errors import MediaError
from core.models import MediaJob, Upload
from core.progress import JobCancelled, JobProgress, job_broadcast
from core.services import job_claim, job_fail, job_mark_cancelled, job_succeed
from core.uploads import Scratch

logger = logging.getLogger(__name__)

Work = Callable[[MediaJob, JobProgress, Path], dict[str, Any]]

# Exceptions whose message is written for the person who started the job. Apps whose engines raise
# their own error types add them here (see the apps' AppConfig.ready).
USER_FACING_ERRORS: list[type[Exception]] = [MediaError, ApplicationError]
# Exceptions that mean "someone cancelled this job" (an engine may raise its own from the callback).
CANCELLATION_ERRORS: list[type[Exception]] = [JobCancelled]


def job_execute(*, job_id: uuid.UUID | str, work: Work) -> None:
    """Claim the job and run `work(job, progress, scratch_dir)`; its dict becomes the job's result."""
    job = job_claim(job_id=job_id)
    if job is None:
        logger.info(
            "job not claimable; another delivery has it or it is finished", extra={"job_id": str(job_id)}
        )
        return
    logger.info("job started", extra={"job_id": str(job.id), "job_kind": job.kind, "attempt": job.attempts})
    job_broadcast(job_id=job.id)
    try:
        with Scratch() as scratch:
            result = work(job, JobProgress(job), scratch)
        if job_succeed(job=job, result=result):
            logger.info("job succeeded", extra={"job_id": str(job.id)})
    except tuple(CANCELLATION_ERRORS):
        job_mark_cancelled(job_id=job.id)
        logger.info("job cancelled", extra={"job_id": str(job.id)})
    except SoftTimeLimitExceeded:
        job_fail(
            job_id=job.id,
            code="job_timeout",
            message="The job took longer than the time allowed and was stopped. Try a shorter file.",
        )
    except tuple(USER_FACING_ERRORS) as exc:
        job_fail(
            job_id=job.id, code=getattr(exc, "code", "job_failed"), message=getattr(exc, "message", str(exc))
        )
        logger.info("job failed", extra={"job_id": str(job.id), "error_code": getattr(exc, "code", "")})
    except Exception:
        logger.exception("job crashed", extra={"job_id": str(job.id)})
        job_fail(
            job_id=job.id,
            code="internal_error",
            message="An unexpected error stopped the job. It has been logged; you can try again.",
        )
    finally:
        job_broadcast(job_id=job.id)


def upload_fetch(*, upload: Upload, scratch: Path) -> Path:
    """Copy an upload from storage (local or S3) into the scratch directory."""
    target = scratch / f"input.{upload.container}"
    with default_storage.open(upload.storage_key, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, length=1024 * 1024)
    return target


def output_store(*, job: MediaJob, name: str, path: Path) -> str:
    """Store an output under `jobs/<job id>/<name>`; a re-run replaces it instead of adding a copy."""
    key = f"jobs/{job.id}/{name}"
    if default_storage.exists(key):
        default_storage.delete(key)
    with path.open("rb") as handle:
        stored = default_storage.save(key, File(handle))
    if stored != key:  # pragma: no cover - a storage backend that renames would break idempotence
        raise RuntimeError(f"storage renamed {key} to {stored}")
    return key
