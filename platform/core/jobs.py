"""Running a claimed job: heartbeat, fencing, per-attempt scratch and outputs, one atomic finish.

Every media task is a thin wrapper around `job_execute`, so they all claim, report, cancel and fail
the same way, and a worker never dies on a bad file.

Each claim of a job is an attempt, numbered by `MediaJob.attempts` (its claim token). While the work
runs, a thread renews the attempt's heartbeat whatever the work reports, so a long silent stage
(watermarking, signing, storing) is not mistaken for a dead worker. Should the attempt still lose
the job (its worker was paused or cut off for longer than the lease and another worker claimed it),
every write it makes afterwards is refused: progress, checkpoints, stored outputs and the finish
all match on the attempt number (fencing), and the first refused write stops the attempt. Outputs
are stored under `jobs/<id>/attempt-<n>/` and moved to `jobs/<id>/<name>` only by the attempt that
finishes the job, in the same transaction that records them, so no attempt overwrites another's
recorded outputs and the domain records (ledger entries, provenance) are written once.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.job_kinds import JOB_KINDS, job_failure_record
from core.media.errors import MediaError
from core.models import FINISHED_STATUSES, MediaJob, Upload
from core.progress import JobCancelled, JobProgress, job_broadcast, job_refusal
from core.services import job_claim, job_fail, job_mark_cancelled, job_succeed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    """What a job's work hands back when it has writes beyond its result.

    `record(result)` makes the domain writes that only the attempt finishing the job may make (ledger
    entries, provenance records, the domain row that points at the outputs). It runs inside the
    fenced transaction that marks the job succeeded, and receives the result with final output keys.
    """

    result: dict[str, Any]
    record: Callable[[dict[str, Any]], object] | None = None


Work = Callable[[MediaJob, JobProgress, Path], dict[str, Any] | JobOutcome]

# Exceptions whose message is written for the person who started the job, whatever its kind; a kind
# adds its engine's own (JobKindSpec.user_facing_errors).
USER_FACING_ERRORS: tuple[type[Exception], ...] = (MediaError, ApplicationError)
# Exceptions that mean "someone cancelled this job"; a kind adds its engine's own, raised from the
# progress callback (JobKindSpec.cancellation_errors). JobSuperseded is a JobCancelled: the attempt
# stops the same way, but leaves the job to its holder.
CANCELLATION_ERRORS: tuple[type[Exception], ...] = (JobCancelled,)


def job_execute(*, job_id: uuid.UUID | str, work: Work) -> None:
    """Claim the job and run `work(job, progress, scratch_dir)`; its result is recorded if it still holds the job."""
    job = job_claim(job_id=job_id)
    if job is None:
        logger.info(
            "job not claimable; another delivery has it or it is finished", extra={"job_id": str(job_id)}
        )
        return
    log = {"job_id": str(job.id), "attempt": job.attempts}
    logger.info("job started", extra={**log, "job_kind": job.kind})
    # A row may outlive the app that registered its kind; it then runs with the kernel's errors only.
    kind = JOB_KINDS.get(job.kind)
    cancellation_errors = CANCELLATION_ERRORS + (kind.cancellation_errors if kind else ())
    user_facing_errors = USER_FACING_ERRORS + (kind.user_facing_errors if kind else ())
    scratch_sweep()  # earlier attempts of this job (and others) killed on this machine left their copies
    job_broadcast(job_id=job.id)
    try:
        with JobHeartbeat(job), job_scratch(job) as scratch:
            outcome = work(job, JobProgress(job), scratch)
            if not isinstance(outcome, JobOutcome):
                outcome = JobOutcome(result=outcome)
            _job_finish(job, outcome)
    except cancellation_errors as exc:
        _job_end(job, code=getattr(exc, "code", "cancelled"), cancelled=True)
    except SoftTimeLimitExceeded:
        _job_end(
            job,
            code="job_timeout",
            message="The job took longer than the time allowed and was stopped. Try a shorter file.",
        )
    except user_facing_errors as exc:
        _job_end(
            job,
            code=getattr(exc, "code", "job_failed"),
            message=getattr(exc, "message", str(exc)),
        )
    except Exception:
        logger.exception("job crashed", extra=log)
        _job_end(
            job,
            code="internal_error",
            message="An unexpected error stopped the job. It has been logged; you can try again.",
        )
    else:
        logger.info("job succeeded", extra=log)
        job_outputs_discard(job_id=job.id, everything=False)
    finally:
        job_broadcast(job_id=job.id)


def _job_finish(job: MediaJob, outcome: JobOutcome) -> None:
    """Record the result, the domain writes and the outputs' final place, all or nothing, if still held."""
    own = _attempt_prefix(job)
    final = {
        name: f"jobs/{job.id}/{value[len(own) :]}" if _is_output(value, own) else value
        for name, value in outcome.result.items()
    }
    with job_fenced(job):
        if outcome.record is not None:
            outcome.record(final)
        # Moved last, so a failed record leaves nothing behind; a worker killed between the move and
        # the commit leaves files no row points at, which the next attempt's move replaces.
        for name, value in outcome.result.items():
            if _is_output(value, own):
                _storage_move(value, final[name])
        if not job_succeed(job=job, result=final):  # pragma: no cover - the fence holds the row
            raise job_refusal(job)


def _job_end(job: MediaJob, *, code: str, message: str = "", cancelled: bool = False) -> None:
    """Record a cancelled or failed job, and its domain's side, if the attempt still holds it."""

    def write() -> bool:
        if cancelled:
            return job_mark_cancelled(job=job)
        return job_fail(job=job, code=code, message=message)

    try:
        with job_fenced(job, refuse_cancelled=False):
            job_failure_record(job, code)
            if not write():  # pragma: no cover - the fence holds the row
                raise job_refusal(job)
    except JobCancelled:  # with refuse_cancelled=False only a lost claim refuses: JobSuperseded
        _superseded(job)
        return
    except Exception:
        # The domain write failed; the job itself must still end, or it would look alive until its lease.
        logger.exception("job failure hook failed", extra={"job_id": str(job.id)})
        if not write():
            _superseded(job)
            return
    extra = {"job_id": str(job.id), "attempt": job.attempts, "error_code": code}
    logger.info("job cancelled" if cancelled else "job failed", extra=extra)
    job_outputs_discard(job_id=job.id, everything=True)


def _superseded(job: MediaJob) -> None:
    """An attempt that lost its job: it leaves the job's state alone and removes only its own outputs."""
    logger.warning(
        "job attempt superseded; its writes were refused",
        extra={"job_id": str(job.id), "attempt": job.attempts},
    )
    try:
        _storage_delete_tree(_attempt_prefix(job).rstrip("/"))
    except Exception:  # noqa: BLE001 — the holder's cleanup removes it when the job finishes
        logger.warning("attempt output cleanup failed", extra={"job_id": str(job.id)}, exc_info=True)


# --- fencing ---------------------------------------------------------------------------------------


@contextmanager
def job_fenced(job: MediaJob, *, refuse_cancelled: bool = True) -> Iterator[None]:
    """A transaction in which `job`'s attempt holds the job's row locked, or JobCancelled/JobSuperseded.

    Writes made inside happen only if the attempt still holds the job, and no other attempt can
    claim it meanwhile (the claim's UPDATE waits for the lock, then finds the row changed).
    `refuse_cancelled=False` lets an attempt record its own failure after a cancel was requested.
    """
    with transaction.atomic():
        held = MediaJob.objects.held_by(job).select_for_update()
        if refuse_cancelled:
            held = held.filter(cancel_requested=False)
        if held.values_list("id", flat=True).first() is None:
            raise job_refusal(job)
        yield


def job_checkpoint(job: MediaJob, key: str, make: Callable[[], Any]) -> Any:
    """Run `make()` once per job (not per attempt) and keep its JSON value; later attempts get that value.

    For side effects that must not repeat when a job is run again, e.g. the ledger entry a render is
    signed under: a second attempt signs under the same entry instead of appending another.
    """
    with job_fenced(job):
        done = MediaJob.objects.values_list("checkpoints", flat=True).get(id=job.id)
        if key in done:
            return done[key]
        value = make()
        MediaJob.objects.held_by(job).update(checkpoints={**done, key: value})
        return value


class JobHeartbeat:
    """Renews the attempt's heartbeat from a thread of its own while the work runs.

    Independent of progress reports, so a stage that reports nothing for minutes keeps its job. The
    thread uses (and closes) its own database connection, stops when its attempt no longer holds the
    job (`lost` is then set) and is always stopped when the `with` block ends.
    """

    def __init__(self, job: MediaJob, *, interval: float | None = None) -> None:
        self.job = job
        self.interval = settings.JOB_HEARTBEAT_SECONDS if interval is None else interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-heartbeat-{job.id}", daemon=True)

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # A beat in flight is one short UPDATE; never let a hung database keep the worker here.
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    renewed = MediaJob.objects.held_by(self.job).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # One missed beat is harmless (the lease spans several); reconnect for the next.
                    logger.warning("job heartbeat failed", extra={"job_id": str(self.job.id)}, exc_info=True)
                    connection.close()
                    continue
                if not renewed:
                    self.lost.set()
                    logger.info(
                        "job heartbeat stops: the attempt no longer holds the job",
                        extra={"job_id": str(self.job.id), "attempt": self.job.attempts},
                    )
                    return
        finally:
            connection.close()  # this thread's own connection, never the worker's


# --- scratch ---------------------------------------------------------------------------------------

_SCRATCH_NAME = re.compile(
    r"(?P<job>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-attempt-(?P<n>\d+)"
)
# A scratch folder whose job this database does not know may belong to another deployment or test
# run sharing the temporary folder; it is left alone this long.
_UNKNOWN_SCRATCH_MAX_AGE_SECONDS = 24 * 60 * 60


def scratch_root() -> Path:
    """The machine-local folder holding one scratch folder per running attempt."""
    root = Path(tempfile.gettempdir()) / "candor-jobs"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


@contextmanager
def job_scratch(job: MediaJob) -> Iterator[Path]:
    """A private folder named by job and attempt, removed on exit (and by `scratch_sweep` if killed)."""
    path = scratch_root() / f"{job.id}-attempt-{job.attempts}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scratch_sweep() -> int:
    """Remove scratch folders of attempts that can no longer run: superseded, finished or killed.

    Run where jobs run (at every claim and by the stall check), since scratch is local to a machine.
    Returns how many folders were removed.
    """
    try:
        found = {
            child: _SCRATCH_NAME.fullmatch(child.name) for child in scratch_root().iterdir() if child.is_dir()
        }
        attempts = {child: (match["job"], int(match["n"])) for child, match in found.items() if match}
        if not attempts:
            return 0
        jobs = {
            str(job_id): (status, current)
            for job_id, status, current in MediaJob.objects.filter(
                id__in={job_id for job_id, _ in attempts.values()}
            ).values_list("id", "status", "attempts")
        }
        removed = 0
        for child, (job_id, n) in attempts.items():
            if job_id in jobs:
                status, current = jobs[job_id]
                dead = status in FINISHED_STATUSES or current != n
            else:
                dead = time.time() - child.stat().st_mtime > _UNKNOWN_SCRATCH_MAX_AGE_SECONDS
            if dead:
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        return removed
    except (OSError, DatabaseError):  # housekeeping never fails a job
        logger.warning("scratch sweep failed", exc_info=True)
        return 0


def upload_fetch(*, upload: Upload, scratch: Path) -> Path:
    """Copy an upload from storage (local or S3) into the scratch directory."""
    target = scratch / f"input.{upload.container}"
    with default_storage.open(upload.storage_key, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, length=1024 * 1024)
    return target


# --- outputs ---------------------------------------------------------------------------------------


def _attempt_prefix(job: MediaJob) -> str:
    return f"jobs/{job.id}/attempt-{job.attempts}/"


def _is_output(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix)


def output_store(*, job: MediaJob, name: str, path: Path) -> str:
    """Store an output of this attempt under `jobs/<id>/attempt-<n>/<name>`, if it still holds the job.

    The key goes into the work's result; finishing the job moves it to `jobs/<id>/<name>`.
    """
    if not MediaJob.objects.held_by(job).exists():
        raise job_refusal(job)
    key = f"{_attempt_prefix(job)}{name}"
    if default_storage.exists(key):
        default_storage.delete(key)
    with path.open("rb") as handle:
        stored = default_storage.save(key, File(handle))
    if stored != key:  # pragma: no cover - a storage backend that renames would break idempotence
        raise RuntimeError(f"storage renamed {key} to {stored}")
    return key


def _storage_move(source: str, target: str) -> None:
    """Put a stored file at `target`, replacing what is there."""
    try:
        source_path, target_path = default_storage.path(source), default_storage.path(target)
    except NotImplementedError:
        # Object stores cannot rename: copy, then drop the attempt's copy. Only the holder of the job's
        # row lock ever writes the final key, so the copy is never raced.
        if default_storage.exists(target):
            default_storage.delete(target)
        with default_storage.open(source, "rb") as handle:
            default_storage.save(target, handle)
        default_storage.delete(source)
    else:
        os.replace(source_path, target_path)  # atomic: a reader sees the old file or the new one


def job_outputs_discard(*, job_id: uuid.UUID | str, everything: bool) -> None:
    """Remove the per-attempt output folders of a finished job (and, if `everything`, all its outputs).

    Left by attempts that were killed or superseded; best effort, since nothing refers to them.
    """
    top = f"jobs/{job_id}"
    try:
        if everything:
            _storage_delete_tree(top)
            return
        folders, _ = default_storage.listdir(top)
        for folder in folders:
            if folder.startswith("attempt-"):
                _storage_delete_tree(f"{top}/{folder}")
    except FileNotFoundError:
        return
    except Exception:  # noqa: BLE001 — housekeeping never fails a job; leftovers are only wasted space
        logger.warning("job output cleanup failed", extra={"job_id": str(job_id)}, exc_info=True)


def _storage_delete_tree(top: str) -> None:
    try:
        folders, files = default_storage.listdir(top)
    except FileNotFoundError:
        return
    for folder in folders:
        _storage_delete_tree(f"{top}/{folder}")
    for name in files:
        default_storage.delete(f"{top}/{name}")
    default_storage.delete(top)  # a folder on a file system; nothing on an object store
