"""Jobs under two workers: the heartbeat keeps a silent job, a lost claim writes nothing, a stalled job
says so, and dead attempts' scratch folders go away (issue 9, findings 12 and 13)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from consent.ledger import ledger_append
from consent.models import LedgerEntry
from core.job_kinds import JOB_KINDS
from core.jobs import (
    JobHeartbeat,
    JobOutcome,
    job_checkpoint,
    job_execute,
    output_store,
    scratch_root,
    scratch_sweep,
)
from core.models import JobKind, JobStatus, MediaJob
from core.progress import JobProgress, JobSuperseded, job_state_message
from core.services import job_claim, video_proxy_start
from core.tasks import jobs_requeue_stalled, video_proxy_run
from tests.support import ClinicPeople, signed_in_client

LEASE = 1  # seconds: short, so the tests wait for real leases to run out


def _job(clinic: ClinicPeople) -> MediaJob:
    # Driven by the tests' own work functions: no input, no enqueued message.
    return MediaJob.objects.create(clinic=clinic.clinic, owner=clinic.clinician, kind=JobKind.VIDEO_PROXY)


class Worker(threading.Thread):
    """A second worker: `job_execute` in a thread of its own, with its own database connection."""

    def __init__(self, job: MediaJob, work: Callable[..., Any]) -> None:
        super().__init__(daemon=True)
        self.job_id, self.work = job.id, work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            job_execute(job_id=self.job_id, work=self.work)
        except BaseException as exc:  # noqa: BLE001 — reported to the test
            self.error = exc
        finally:
            connection.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _entries(event_type: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(event_type=event_type))


@pytest.mark.django_db(transaction=True)
def test_a_job_silent_for_longer_than_its_lease_keeps_its_worker_and_runs_once(
    clinic_a: ClinicPeople, settings: Any
) -> None:
    """Issue 9 finding 12: a stage that reports no progress for three leases (as watermarking,
    signing and storing do) is kept alive by the heartbeat; neither the stall check nor a second
    worker's delivery takes the job over, so it runs once."""
    settings.JOB_LEASE_SECONDS = LEASE
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = _job(clinic_a)
    in_silent_stage = threading.Event()
    second_worker_ran: list[int] = []

    def silent_work(job: MediaJob, progress: JobProgress, scratch: Path) -> dict[str, Any]:
        progress(0.86, "watermarking")
        in_silent_stage.set()
        time.sleep(3 * LEASE)  # no progress report at all
        return {"worker": "first"}

    def second_work(job: MediaJob, progress: JobProgress, scratch: Path) -> dict[str, Any]:
        second_worker_ran.append(job.attempts)
        return {"worker": "second"}

    first = Worker(job, silent_work)
    first.start()
    assert in_silent_stage.wait(10)
    checks = 0
    while first.is_alive():
        time.sleep(0.3)
        if not first.is_alive():
            break
        # What beat and a redelivered message would do while the first worker is silent.
        assert jobs_requeue_stalled() == 0
        job_execute(job_id=job.id, work=second_work)
        job.refresh_from_db()
        assert job.stalled_seconds is None and not job_state_message(job)["stalled"]
        checks += 1
    first.join()
    assert first.error is None
    assert checks >= 5  # the second worker tried well past the lease
    job.refresh_from_db()
    assert second_worker_ran == []
    assert (job.status, job.attempts, job.result) == (JobStatus.SUCCEEDED, 1, {"worker": "first"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stale_ending", ["returns its result", "crashes"])
def test_once_a_dead_workers_job_is_taken_over_its_attempt_can_write_nothing(
    clinic_a: ClinicPeople,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    stale_ending: str,
) -> None:
    """Issue 9 finding 12: the first worker records the signing entry, then goes silent (no
    heartbeat) past the lease; a second worker takes the job as attempt 2, reuses that entry and
    finishes. When the first wakes up, its progress, checkpoint, stored output, finish and failure
    are all refused, the job stays succeeded (not cancelled, not failed) with the second attempt's
    outputs, and each ledger entry exists once."""
    settings.JOB_LEASE_SECONDS = LEASE
    settings.JOB_HEARTBEAT_SECONDS = 3600  # the first worker's heartbeat never beats: it is "dead"
    job = _job(clinic_a)
    paused, resume = threading.Event(), threading.Event()
    refused: list[str] = []
    failures: list[tuple[int, str]] = []

    def sign_once(job: MediaJob) -> int:
        return job_checkpoint(
            job,
            "test.signing",
            lambda: (
                ledger_append(
                    event_type="test.signing", clinic_id=job.clinic_id, object_type="job", object_id=job.id
                ).seq
            ),
        )

    def finish_record(job: MediaJob) -> Callable[[dict[str, Any]], None]:
        return lambda final: ledger_append(
            event_type="test.finished",
            clinic_id=job.clinic_id,
            object_type="job",
            object_id=job.id,
            data={"attempt": job.attempts},
        )

    def first_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
        progress(0.5, "working")
        seq = sign_once(job)
        (scratch / "out.txt").write_text("first")
        paused.set()
        assert resume.wait(20)
        # Meanwhile the second attempt's claim swept this attempt's scratch folder (on this machine).
        for name, write in (
            ("progress", lambda: progress(0.95, "storing")),
            ("checkpoint", lambda: job_checkpoint(job, "late", lambda: 1)),
            ("output", lambda: output_store(job=job, name="out.txt", path=scratch / "out.txt")),
        ):
            try:
                write()
            except JobSuperseded:
                refused.append(name)
        if stale_ending == "crashes":
            raise ZeroDivisionError("a bug after the claim was lost")
        return JobOutcome(result={"worker": "first", "signing": seq}, record=finish_record(job))

    def second_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
        progress(0.5, "working")
        seq = sign_once(job)
        (scratch / "out.txt").write_text("second")
        key = output_store(job=job, name="out.txt", path=scratch / "out.txt")
        return JobOutcome(result={"worker": "second", "signing": seq, "out": key}, record=finish_record(job))

    def on_failure(job: MediaJob, code: str) -> None:
        failures.append((job.attempts, code))

    # As a render fails its video.
    monkeypatch.setitem(JOB_KINDS, job.kind, replace(JOB_KINDS[job.kind], on_failure=on_failure))
    first = Worker(job, first_work)
    first.start()
    assert paused.wait(10)
    time.sleep(LEASE + 0.3)
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job.refresh_from_db()
    assert job.stalled_seconds is not None  # finding 13: shown as stalled, not "about N s left"
    job_execute(job_id=job.id, work=second_work)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    with caplog.at_level(logging.INFO, logger="core.jobs"):
        resume.set()
        first.join(20)
    assert first.error is None
    job.refresh_from_db()
    assert refused == ["progress", "checkpoint", "output"]
    assert failures == []
    assert job.status == JobStatus.SUCCEEDED and job.error_code == ""
    (signing,) = _entries("test.signing")
    assert job.result == {"worker": "second", "signing": signing.seq, "out": f"jobs/{job.id}/out.txt"}
    (finished,) = _entries("test.finished")
    assert json.loads(finished.entry)["data"] == {"attempt": 2}
    folders, files = default_storage.listdir(f"jobs/{job.id}")
    assert (folders, files) == ([], ["out.txt"])
    with default_storage.open(f"jobs/{job.id}/out.txt") as handle:
        assert handle.read() == b"second"
    messages = [record.getMessage() for record in caplog.records]
    assert "job attempt superseded; its writes were refused" in messages
    assert "job cancelled" not in messages and "job failed" not in messages


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_job_and_stops_once_another_attempt_holds_it(
    clinic_a: ClinicPeople,
) -> None:
    """Issue 9 finding 12: the heartbeat thread renews only its own attempt's claim; when the job is
    taken over it stops and says its attempt lost the job."""
    job = job_claim(job_id=_job(clinic_a).id)
    assert job is not None
    began = job.heartbeat_at
    with JobHeartbeat(job, interval=0.05) as heartbeat:
        _wait_for(lambda: MediaJob.objects.get(id=job.id).heartbeat_at > began)
        MediaJob.objects.filter(id=job.id).update(attempts=job.attempts + 1)  # another worker's claim
        assert heartbeat.lost.wait(5)
        renewed = MediaJob.objects.get(id=job.id).heartbeat_at
        time.sleep(0.2)
    assert MediaJob.objects.get(id=job.id).heartbeat_at == renewed
    assert not heartbeat._thread.is_alive()


@pytest.fixture
def queued_proxy(
    clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any
) -> MediaJob:
    with django_capture_on_commit_callbacks(execute=False):
        return video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("c.mp4", tiny_video.read_bytes())
        )


def _silence(job: MediaJob, seconds: float) -> None:
    MediaJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def test_a_job_without_a_heartbeat_is_shown_as_stalled_with_its_age_instead_of_an_eta(
    clinic_a: ClinicPeople, queued_proxy: MediaJob, settings: Any
) -> None:
    """Issue 9 finding 13: a running job whose worker went silent for longer than the lease says
    "stalled" and how long ago it was last heard from, on its page, in the job list and in the
    websocket payload, instead of "about 37 s left"."""
    job = job_claim(job_id=queued_proxy.id)
    assert job is not None
    JobProgress(job)(0.5, "watermarking")
    MediaJob.objects.filter(id=job.id).update(eta_seconds=37)
    client = signed_in_client(clinic_a.clinician)
    job.refresh_from_db()
    live = job_state_message(job)
    assert (live["stalled"], live["stalled_seconds"], live["eta_seconds"]) == (False, None, 37)
    assert "about 37 s left" in client.get(f"/jobs/{job.id}/").content.decode()

    _silence(job, settings.JOB_LEASE_SECONDS + 75)
    job.refresh_from_db()
    state = job_state_message(job)
    assert state["stalled"] and state["eta_seconds"] is None
    assert settings.JOB_LEASE_SECONDS + 75 <= state["stalled_seconds"] <= settings.JOB_LEASE_SECONDS + 80
    for page in (f"/jobs/{job.id}/", "/jobs/"):
        html = client.get(page).content.decode()
        assert f"stalled: no sign of its worker for {state['stalled_seconds']} s" in html, page
        assert "s left" not in html


def test_a_killed_attempts_scratch_folder_is_removed_when_the_job_runs_again(
    queued_proxy: MediaJob, settings: Any
) -> None:
    """Issue 9 finding 13: each killed attempt left a copy of the input in the temporary folder.
    Scratch folders are named by job and attempt; the next claim sweeps the dead attempt's folder,
    and the run leaves none of its own."""
    job = job_claim(job_id=queued_proxy.id)
    assert job is not None
    dead = scratch_root() / f"{job.id}-attempt-{job.attempts}"
    dead.mkdir()
    (dead / "input.mp4").write_bytes(b"a copy of the input")  # as the killed worker left it
    _silence(job, settings.JOB_LEASE_SECONDS + 5)
    video_proxy_run(str(job.id))
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert not dead.exists()
    assert not list(scratch_root().glob(f"{job.id}-*"))


def test_the_sweep_keeps_live_attempts_and_unknown_recent_folders(
    clinic_a: ClinicPeople, queued_proxy: MediaJob
) -> None:
    """Issue 9 finding 13: the orphan sweep removes only folders of attempts that can no longer run
    (finished or superseded jobs), never a live attempt's folder, and leaves a recent folder of a job
    this database does not know (another deployment or test run sharing the folder)."""
    live = job_claim(job_id=queued_proxy.id)
    finished = _job(clinic_a)
    MediaJob.objects.filter(id=finished.id).update(status=JobStatus.SUCCEEDED, attempts=1)
    superseded = job_claim(job_id=_job(clinic_a).id)
    assert live is not None and superseded is not None
    MediaJob.objects.filter(id=superseded.id).update(attempts=2)
    unknown = "00000000-0000-4000-8000-000000000000"
    folders = {
        name: scratch_root() / name
        for name in (
            f"{live.id}-attempt-1",
            f"{finished.id}-attempt-1",
            f"{superseded.id}-attempt-1",
            f"{unknown}-attempt-1",
        )
    }
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    try:
        assert scratch_sweep() == 2
        assert {name for name, folder in folders.items() if folder.exists()} == {
            f"{live.id}-attempt-1",
            f"{unknown}-attempt-1",
        }
    finally:
        for folder in folders.values():
            if folder.exists():
                folder.rmdir()


def test_the_stall_check_ends_a_stalled_job_whose_cancel_was_asked(
    clinic_a: ClinicPeople, queued_proxy: MediaJob, settings: Any
) -> None:
    """Issue 9 finding 13: a job cancelled while its worker was dead used to stay "cancelling"
    forever (never re-sent, never out of attempts); the stall check now ends it as cancelled."""
    job = job_claim(job_id=queued_proxy.id)
    assert job is not None
    MediaJob.objects.filter(id=job.id).update(cancel_requested=True, stage="cancelling")
    _silence(job, settings.JOB_LEASE_SECONDS + 5)
    assert jobs_requeue_stalled() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None


def test_a_render_whose_worker_is_lost_for_good_fails_its_video_once(
    texts: ClinicPeople, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 9 finding 12: a render out of attempts was marked `worker_lost` while its video stayed
    "rendering" forever; the stall check now ends the job and its video together, once."""
    from avatars.models import NarrationSource, VideoStatus
    from avatars.services import enrollment_stock_get_or_create, render_request, script_approve, script_save

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
    with django_capture_on_commit_callbacks(execute=False):
        video = render_request(actor=clinician, script_id=script.id)
    settings.JOB_MAX_ATTEMPTS = 1
    job = job_claim(job_id=video.job.id)
    assert job is not None
    _silence(job, settings.JOB_LEASE_SECONDS + 5)
    assert jobs_requeue_stalled() == 1
    assert jobs_requeue_stalled() == 0
    job.refresh_from_db()
    video.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    assert video.status == VideoStatus.FAILED
    (failed,) = LedgerEntry.objects.filter(object_id=str(video.id), event_type="render.failed")
    assert json.loads(failed.entry)["data"] == {"code": "worker_lost"}


def test_a_dead_worker_is_noticed_within_two_minutes_by_default(settings: Any) -> None:
    """Issue 9 finding 13: recovery took the 600 s lease plus up to 5 min between stall checks; now
    the lease is a few missed heartbeats and beat checks twice a minute."""
    check = settings.CELERY_BEAT_SCHEDULE["requeue-stalled-jobs"]["schedule"]
    assert check <= timedelta(seconds=60)
    assert settings.JOB_HEARTBEAT_SECONDS * 3 <= settings.JOB_LEASE_SECONDS
    assert timedelta(seconds=settings.JOB_LEASE_SECONDS) + check <= timedelta(minutes=2)
