"""A worker process killed with SIGKILL in the middle of a render: the job finishes exactly once
(issue 9, findings 12 and 13).

Real processes against a real database: each worker is a Python process running the render task,
as a Celery worker would. PostgreSQL is needed, since an in-memory SQLite test database is private to
the test process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction

from avatars.models import NarrationSource, Video, VideoStatus
from avatars.services import enrollment_stock_get_or_create, render_request, script_approve, script_save
from consent.ledger import _LEDGER_LOCK_ID
from consent.models import LedgerEntry
from core.jobs import scratch_root
from core.models import JobStatus, MediaJob
from core.progress import job_state_message
from core.tasks import jobs_requeue_stalled
from provenance.models import ProvenanceRecord
from provenance.services import output_manifest

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 3
ROOT = Path(__file__).resolve().parents[2]
# One worker process: Django set up as the test's, media in the test's folder, then the render task.
WORKER = """
import sys
from django.conf import settings
settings.MEDIA_ROOT = sys.argv[2]
settings.AVATAR_RENDER_WIDTH, settings.AVATAR_RENDER_HEIGHT = 480, 270
import django
django.setup()
from avatars.tasks import video_render
video_render(sys.argv[1])
"""


def _dsn() -> dict[str, Any]:
    db = connection.settings_dict
    return {
        key: value
        for key, value in {
            "dbname": db["NAME"],
            "user": db["USER"],
            "password": db["PASSWORD"],
            "host": db["HOST"],
            "port": db["PORT"],
        }.items()
        if value
    }


def _start_worker(job: MediaJob, log: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "CANDOR_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "CANDOR_JOB_HEARTBEAT_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(job.id), str(settings.MEDIA_ROOT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _blocked(
    observer: psycopg.Connection[Any], *, by: psycopg.Connection[Any] | None = None, pid: int = 0
) -> bool:
    """Whether a backend waits for a lock that `by` holds (or whether backend `pid` waits at all)."""
    if by is not None:
        query = "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
        row = observer.execute(query, [by.info.backend_pid]).fetchone()
    else:
        row = observer.execute("SELECT cardinality(pg_blocking_pids(%s))", [pid]).fetchone()
    return bool(row and row[0])


def _queued_stock_render(texts: Any) -> Video:
    clinician = texts.clinician
    script = script_save(
        actor=clinician,
        enrollment_id=enrollment_stock_get_or_create(actor=clinician).id,
        title="Morning glucose",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text="Check your blood sugar before breakfast.",
        narration_source=NarrationSource.TTS,
    )
    script_approve(actor=clinician, script_id=script.id)
    with transaction.atomic():
        video = render_request(actor=clinician, script_id=script.id)
        # The test plays the broker: it starts each worker itself.
        transaction.get_connection().run_on_commit.clear()
    return video


def test_a_render_whose_worker_is_killed_after_signing_finishes_exactly_once(
    texts: Any, settings: Any, tmp_path: Path
) -> None:
    """Issue 9 findings 12 and 13: worker 1 (a real process) appends the render's `render.signing`
    entry and is killed with SIGKILL before it stores anything. The job shows as stalled once its
    heartbeat is older than the lease; the stall check re-sends it; worker 2 (another process) runs it
    as attempt 2, signs under the same ledger entry, and finishes it. Result: one set of outputs, one
    `render.signing` and one `render.finished` entry, two provenance records, no scratch folder left."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs a database shared between processes: run with DATABASE_URL=postgres://... "
            "(the SQLite in-memory test database exists only inside the test process)"
        )
    settings.JOB_LEASE_SECONDS = LEASE_SECONDS
    video = _queued_stock_render(texts)
    job = video.job
    started = time.monotonic()
    with (
        psycopg.connect(**_dsn()) as ledger_lock,
        psycopg.connect(**_dsn()) as row_lock,
        psycopg.connect(**_dsn(), autocommit=True) as observer,
    ):
        # Hold the ledger so that worker 1 stops inside its `render.signing` append, holding the job row.
        ledger_lock.execute("SELECT pg_advisory_xact_lock(%s)", [_LEDGER_LOCK_ID])
        first = _start_worker(job, tmp_path / "worker-1.log")
        try:
            _wait_for(lambda: _blocked(observer, by=ledger_lock), "worker 1 to sign")
            assert MediaJob.objects.get(id=job.id).stage == "signing"
            # Queue for the job row behind worker 1, then let its append through: worker 1 commits the
            # entry, this connection gets the row, and worker 1 stops at its next write of the job.
            row_locked = threading.Event()

            def take_row() -> None:
                row_lock.execute("SELECT id FROM core_mediajob WHERE id = %s FOR UPDATE", [job.id])
                row_locked.set()

            taker = threading.Thread(target=take_row, daemon=True)
            taker.start()
            _wait_for(lambda: _blocked(observer, pid=row_lock.info.backend_pid), "the row lock to queue")
            ledger_lock.commit()
            assert row_locked.wait(10)
            taker.join()
            _wait_for(lambda: _blocked(observer, by=row_lock), "worker 1 to block")
            assert "render.signing" in MediaJob.objects.get(id=job.id).checkpoints
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
            first.wait()
            row_lock.rollback()
        killed = MediaJob.objects.get(id=job.id)
        assert (killed.status, killed.attempts) == (JobStatus.RUNNING, 1)
        assert list(scratch_root().glob(f"{job.id}-attempt-1"))  # the killed attempt's copy is left

        # Finding 13: no heartbeat for the lease, so it is shown as stalled and the stall check re-sends it.
        _wait_for(lambda: MediaJob.objects.get(id=job.id).stalled_seconds is not None, "stalled", timeout=15)
        state = job_state_message(MediaJob.objects.get(id=job.id))
        assert state["stalled"] and state["stalled_seconds"] >= LEASE_SECONDS and state["eta_seconds"] is None
        assert jobs_requeue_stalled() == 1
        second = _start_worker(job, tmp_path / "worker-2.log")  # it receives the re-sent message
        try:
            second.wait(timeout=90)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        assert second.returncode == 0, (tmp_path / "worker-2.log").read_text()[-3000:]
    elapsed = time.monotonic() - started

    job.refresh_from_db()
    video.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2), job.error_message
    events = list(
        LedgerEntry.objects.filter(object_id=str(video.id))
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert events == ["render.requested", "render.signing", "render.finished"]
    signing = LedgerEntry.objects.get(object_id=str(video.id), event_type="render.signing")
    assert video.status == VideoStatus.IN_REVIEW
    assert (video.video_key, video.poster_key, video.captions_key) == (
        f"jobs/{job.id}/video.mp4",
        f"jobs/{job.id}/poster.jpg",
        f"jobs/{job.id}/captions.vtt",
    )
    assert default_storage.listdir(f"jobs/{job.id}") == ([], ["captions.vtt", "poster.jpg", "video.mp4"])
    manifest = output_manifest(Path(default_storage.path(video.video_key)))
    assert manifest.consent is not None and manifest.consent.ledger_entry_id == str(signing.seq)
    assert ProvenanceRecord.objects.filter(video_id=video.id).count() == 2
    assert not list(scratch_root().glob(f"{job.id}-*"))
    print(json.dumps({"kill_test_seconds": round(elapsed, 1)}))
