"""The job state machine: claim once, cancel, readable failures, recovery from a lost worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.jobs import job_execute
from core.models import JobStatus, MediaJob
from core.progress import JobCancelled, JobProgress
from core.services import job_cancel, job_claim, video_proxy_start
from core.tasks import jobs_requeue_stalled, video_proxy_run
from tests.support import ClinicPeople, api_client


@pytest.fixture
def queued_job(clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks) -> MediaJob:
    # Capture (and drop) the enqueue so the test drives the task itself.
    with django_capture_on_commit_callbacks(execute=False):
        job = video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("c.mp4", tiny_video.read_bytes())
        )
    return job


def test_a_job_is_claimed_only_once(queued_job: MediaJob) -> None:
    first = job_claim(job_id=queued_job.id)
    second = job_claim(job_id=queued_job.id)
    assert first is not None and first.status == JobStatus.RUNNING and first.attempts == 1
    assert second is None


def test_a_second_delivery_of_a_finished_job_does_nothing(queued_job: MediaJob) -> None:
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    finished_at = queued_job.finished_at
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.SUCCEEDED
    assert queued_job.attempts == 1 and queued_job.finished_at == finished_at


def test_the_proxy_job_makes_a_browser_playable_mp4_and_poster(queued_job: MediaJob) -> None:
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.SUCCEEDED, queued_job.error_message
    assert queued_job.percent == 100.0
    video_key = queued_job.result["video"]
    assert video_key == f"jobs/{queued_job.id}/proxy.mp4"
    with default_storage.open(video_key, "rb") as handle:
        head = handle.read(4096)
    assert head[4:8] == b"ftyp" and b"moov" in head  # fast start: the index precedes the media data
    with av.open(default_storage.path(video_key)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.profile == "High"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(video=0)) == queued_job.result["frames"] == 50
    with default_storage.open(queued_job.result["poster"], "rb") as handle:
        assert handle.read(3) == b"\xff\xd8\xff"


def test_cancelling_a_queued_job_stops_it_before_it_runs(
    clinic_a: ClinicPeople, queued_job: MediaJob
) -> None:
    job_cancel(actor=clinic_a.clinician, job_id=queued_job.id)
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.CANCELLED
    assert queued_job.attempts == 0 and queued_job.result == {}


def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(
    clinic_a: ClinicPeople, queued_job: MediaJob
) -> None:
    reports: list[str] = []

    def work(job, progress, scratch):
        progress(0.1, "working")
        job_cancel(actor=clinic_a.clinician, job_id=job.id)  # someone clicks Cancel meanwhile
        reports.append("cancel requested")
        progress(0.5, "working")
        reports.append("kept going")  # never reached
        return {}

    job_execute(job_id=queued_job.id, work=work)
    queued_job.refresh_from_db()
    assert reports == ["cancel requested"]
    assert queued_job.status == JobStatus.CANCELLED and queued_job.finished_at is not None


def test_a_finished_job_cannot_be_cancelled(clinic_a: ClinicPeople, queued_job: MediaJob) -> None:
    video_proxy_run(str(queued_job.id))
    response = api_client(clinic_a.clinician).post(f"/api/v1/jobs/{queued_job.id}/cancel/")
    assert response.status_code == 409
    assert response.json() == {
        "message": "The job has already succeeded.",
        "code": "job_not_cancellable",
        "extra": {},
    }


def test_a_bad_file_fails_the_job_with_a_readable_error(queued_job: MediaJob) -> None:
    # The stored original is damaged after upload (e.g. a storage fault): the worker must survive.
    path = Path(default_storage.path(queued_job.input_upload.storage_key))
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.FAILED
    assert queued_job.error_code == "media_undecodable"
    assert "cannot be opened" in queued_job.error_message


def test_an_unexpected_crash_becomes_a_failed_job(queued_job: MediaJob) -> None:
    def work(job, progress, scratch):
        raise ZeroDivisionError("bug")

    job_execute(job_id=queued_job.id, work=work)
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.FAILED and queued_job.error_code == "internal_error"
    assert "unexpected" in queued_job.error_message and "ZeroDivision" not in queued_job.error_message


def test_progress_is_written_to_the_job_row(queued_job: MediaJob) -> None:
    job = job_claim(job_id=queued_job.id)
    JobProgress(job)(0.25, "converting")
    job.refresh_from_db()
    assert (job.stage, job.percent) == ("converting", 25.0)


def test_progress_on_a_cancelled_job_raises(queued_job: MediaJob) -> None:
    job = job_claim(job_id=queued_job.id)
    MediaJob.objects.filter(id=job.id).update(cancel_requested=True)
    with pytest.raises(JobCancelled):
        JobProgress(job)(0.5, "converting")


def test_a_job_whose_worker_died_is_run_again_exactly_once(queued_job: MediaJob, settings) -> None:
    # The first worker claimed the job and was killed: the row says running, but its lease lapsed.
    job_claim(job_id=queued_job.id)
    MediaJob.objects.filter(id=queued_job.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    )
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        assert jobs_requeue_stalled() == 1
    finally:
        app.conf.task_always_eager = False
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.SUCCEEDED and queued_job.attempts == 2
    # The redelivered original message now finds nothing to do, and outputs exist once.
    video_proxy_run(str(queued_job.id))
    queued_job.refresh_from_db()
    assert queued_job.attempts == 2
    _, files = default_storage.listdir(f"jobs/{queued_job.id}")
    assert sorted(files) == ["poster.jpg", "proxy.mp4"]


def test_a_running_job_with_a_live_lease_is_not_claimed_again(queued_job: MediaJob) -> None:
    job_claim(job_id=queued_job.id)
    assert job_claim(job_id=queued_job.id) is None
    assert jobs_requeue_stalled() == 0
