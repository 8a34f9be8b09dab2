"""Two Celery worker processes on one queue, over Redis and PostgreSQL: 20 jobs, each run exactly once.

The workers are real `celery worker` processes started by the test (as docker/compose.yaml scales
them); the jobs are queued through the broker by the upload service when its transaction commits.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from core.models import FINISHED_STATUSES, JobStatus, MediaJob
from tests.support import ClinicPeople

ROOT = Path(__file__).resolve().parents[2]
JOBS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )


def test_two_workers_on_one_queue_run_twenty_jobs_exactly_once(
    clinic_a: ClinicPeople, tiny_video: Path
) -> None:
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL), as in CI")
    from django.conf import settings

    from core.services import video_proxy_start

    # The test's media folder is <tmp>/media; the test settings put media at $CANDOR_VAR_DIR/test-media.
    var_dir = Path(settings.MEDIA_ROOT).parent / "worker-var"
    var_dir.mkdir()
    (var_dir / "test-media").symlink_to(settings.MEDIA_ROOT)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CANDOR_VAR_DIR": str(var_dir),
    }
    workers = [
        subprocess.Popen(
            [
                str(ROOT / ".venv/bin/celery"),
                "--workdir",
                "platform",
                "-A",
                "config",
                "worker",
                "-Q",
                "media",
                "-c",
                "1",
                "-n",
                f"drill{n}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for n in (1, 2)
    ]
    try:
        jobs = [
            video_proxy_start(
                actor=clinic_a.clinician, file=SimpleUploadedFile(f"c{n}.mp4", tiny_video.read_bytes())
            )
            for n in range(JOBS)
        ]
        ids = [job.id for job in jobs]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if MediaJob.objects.filter(id__in=ids, status__in=FINISHED_STATUSES).count() == JOBS:
                break
            assert all(worker.poll() is None for worker in workers), "a worker process died"
            time.sleep(0.5)
        finished = list(MediaJob.objects.filter(id__in=ids))
        assert [job.status for job in finished] == [JobStatus.SUCCEEDED] * JOBS, {
            (job.error_code, job.error_message) for job in finished
        }
        # Exactly once: every job was claimed by one attempt, and each stored its own outputs once.
        assert {job.attempts for job in finished} == {1}
        for job in finished:
            keys = [
                value for value in job.result.values() if isinstance(value, str) and value.startswith("jobs/")
            ]
            assert keys and all(default_storage.exists(key) for key in keys)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
