"""Media storage on an S3 API: uploads, job outputs, renders, the verify page and signed downloads.

The tests start moto's S3 server (a real HTTP S3 API, in this process, on a free loopback port), point
django-storages at it exactly as a deployment sets `AWS_STORAGE_BUCKET_NAME` and
`AWS_S3_ENDPOINT_URL`, and check the objects in the bucket with boto3.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import JobStatus
from tests.support import ClinicPeople, signed_in_client

BUCKET = "candor-media-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Default storage on a fresh bucket of the S3 server; returns a boto3 client to look inside."""
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "candor-test",
        "AWS_SECRET_ACCESS_KEY": "candor-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "default_acl": None,
                "querystring_auth": True,
                "signature_version": "s3v4",
                "file_overwrite": True,
            },
        },
    }
    return client


def _keys(client: Any) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_an_upload_and_its_jobs_outputs_live_in_the_bucket_and_play_with_ranges(
    s3: Any, clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.files.storage import default_storage

    from core.job_kinds import job_kind_get
    from core.services import video_proxy_start

    assert getattr(default_storage, "bucket_name", None) == BUCKET
    with django_capture_on_commit_callbacks(execute=False):
        job = video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("clip.mp4", tiny_video.read_bytes())
        )
    assert job.input_upload.storage_key in _keys(s3)

    job_kind_get(job.kind).task(str(job.id))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    outputs = [value for value in job.result.values() if isinstance(value, str) and value.startswith("jobs/")]
    assert outputs and set(outputs) <= _keys(s3)
    # Outputs were moved out of the attempt's folder by the finishing attempt.
    assert not any("/attempt-" in key for key in _keys(s3))

    name = outputs[0].removeprefix(f"jobs/{job.id}/")
    client = signed_in_client(clinic_a.clinician)
    response = client.get(f"/api/v1/jobs/{job.id}/outputs/{name}", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206 and len(response.content) == 100


def test_a_large_file_is_stored_in_parts_and_read_back_whole(s3: Any) -> None:
    from django.core.files.storage import default_storage

    size = 24 * 1024 * 1024  # above boto3's 8 MiB multipart threshold: three parts or more
    payload = bytes(range(256)) * (size // 256)
    key = default_storage.save("exports/large.bin", ContentFile(payload))
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == size
    assert "-" in head["ETag"], "a multipart upload's ETag ends in -<parts>"
    with default_storage.open(key, "rb") as stored:
        assert stored.read() == payload


def test_patients_get_a_short_lived_signed_link_instead_of_the_bytes_through_the_web_server(
    s3: Any, settings: Any, rf: Any, clinic_a: ClinicPeople
) -> None:
    from django.core.files.storage import default_storage

    from core.http import stored_file_response

    settings.STORAGE_SIGNED_URL_SECONDS = 120
    key = default_storage.save("jobs/example/video.mp4", ContentFile(b"\x00" * 1000))
    request = rf.get("/videos/x/media/video/")
    request.user = clinic_a.patient
    response = stored_file_response(request, key)
    assert response.status_code == 302
    location = response["Location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=120" in location
    with urllib.request.urlopen(location, timeout=10) as fetched:  # noqa: S310 — the local S3 server
        assert fetched.read() == b"\x00" * 1000


def test_a_render_on_s3_is_signed_shown_and_verified(
    s3: Any, texts: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    from django.core.files.storage import default_storage

    from provenance.services import media_verify
    from tests.avatars.test_studio import _stock_video

    video = _stock_video(texts, django_capture_on_commit_callbacks)
    assert video.job.status == JobStatus.SUCCEEDED, video.job.error_message
    assert {video.video_key, video.captions_key} <= _keys(s3)

    from avatars.services import video_publish, video_review

    video_review(actor=texts.clinician, video_id=video.id, approve=True)
    video_publish(actor=texts.clinician, video_id=video.id, patient_ids=[texts.patient.pk])
    # The patient's viewer reads the stored file's manifest back (a local path does not exist on S3).
    viewer = signed_in_client(texts.patient).get(f"/videos/{video.id}/")
    assert viewer.status_code == 200
    assert b"the file is intact" in viewer.content

    copy = tmp_path / "downloaded.mp4"
    with default_storage.open(video.video_key, "rb") as stored:
        copy.write_bytes(stored.read())
    outcome = media_verify(copy)
    assert outcome.manifest_state == "Trusted" and outcome.watermark_found


def test_with_signed_links_the_pages_allow_media_from_the_bucket_and_nothing_else_new(
    settings: Any, rf: Any
) -> None:
    from django.http import HttpResponse

    from core.middleware import ContentSecurityPolicyMiddleware

    settings.STORAGE_MEDIA_ORIGINS = ["https://media.clinic.example"]
    policy = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())(rf.get("/"))[
        "Content-Security-Policy"
    ]
    assert "media-src 'self' blob: https://media.clinic.example" in policy
    assert "script-src 'self';" in policy and "connect-src 'self' ws: wss:;" in policy
