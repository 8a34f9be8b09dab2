"""Upload validation: bad files get a clear 4xx naming the problem and leave nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import MediaJob, Upload
from tests.support import ClinicPeople, api_client


def _post(clinic: ClinicPeople, name: str, data: bytes):
    client = api_client(clinic.clinician)
    return client.post("/api/v1/videos/", {"file": SimpleUploadedFile(name, data)}, format="multipart")


def _assert_nothing_kept(settings) -> None:
    assert Upload.objects.count() == 0
    assert MediaJob.objects.count() == 0
    media_root = Path(settings.MEDIA_ROOT)
    stored = [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []
    assert stored == []


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_valid_video_is_accepted_and_queued(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    response = _post(clinic_a, "clip.mp4", tiny_video.read_bytes())
    assert response.status_code == 202, response.json()
    upload = Upload.objects.get()
    assert upload.sha256 and len(upload.sha256) == 64
    assert (upload.width, upload.height, upload.container, upload.has_audio) == (160, 96, "mp4", True)
    assert response.json()["websocket"] == f"/ws/jobs/{response.json()['id']}/"


def test_zero_byte_file_is_refused(clinic_a: ClinicPeople, settings) -> None:
    response = _post(clinic_a, "empty.mp4", b"")
    assert response.status_code == 400
    assert response.json()["code"] == "upload_empty"
    assert "empty" in response.json()["message"]
    _assert_nothing_kept(settings)


def test_png_renamed_mp4_is_refused_as_an_image(clinic_a: ClinicPeople, settings) -> None:
    response = _post(clinic_a, "holiday.mp4", _png_bytes())
    assert response.status_code == 415
    body = response.json()
    assert body["code"] == "upload_wrong_kind"
    assert "PNG image" in body["message"]
    _assert_nothing_kept(settings)


def test_text_with_a_video_extension_is_refused(clinic_a: ClinicPeople, settings) -> None:
    response = _post(clinic_a, "notes.mp4", b"Patient notes: not a video at all.\n" * 20)
    assert response.status_code == 415
    assert response.json()["code"] == "upload_unknown_type"
    assert "contents" in response.json()["message"]
    _assert_nothing_kept(settings)


def test_truncated_video_is_refused(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    data = tiny_video.read_bytes()
    response = _post(clinic_a, "cut.mp4", data[: len(data) // 2])
    assert response.status_code == 422, response.json()
    assert response.json()["code"] in {"media_truncated", "media_undecodable"}
    _assert_nothing_kept(settings)


def test_header_only_video_is_refused(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    response = _post(clinic_a, "head.mp4", tiny_video.read_bytes()[:200])
    assert response.status_code == 422
    _assert_nothing_kept(settings)


def test_oversize_file_is_refused_before_reading(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    response = _post(clinic_a, "big.mp4", tiny_video.read_bytes())
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"
    _assert_nothing_kept(settings)


def test_too_long_video_is_refused(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    settings.UPLOAD_MAX_DURATION_SECONDS = 1
    response = _post(clinic_a, "long.mp4", tiny_video.read_bytes())
    assert response.status_code == 422
    assert response.json()["code"] == "media_too_long"
    _assert_nothing_kept(settings)


def test_too_small_picture_is_refused(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    settings.UPLOAD_MIN_DIMENSION = 100
    response = _post(clinic_a, "small.mp4", tiny_video.read_bytes())
    assert response.status_code == 422
    assert response.json()["code"] == "media_too_small"
    _assert_nothing_kept(settings)


def test_polyglot_with_mp4_header_and_png_body_is_refused(clinic_a: ClinicPeople, settings) -> None:
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + _png_bytes()
    response = _post(clinic_a, "poly.mp4", data)
    assert response.status_code == 422
    _assert_nothing_kept(settings)


def test_random_bytes_are_refused(clinic_a: ClinicPeople, settings) -> None:
    response = _post(clinic_a, "noise.mp4", os.urandom(4096))
    assert response.status_code in (415, 422)
    assert response.json()["message"]
    _assert_nothing_kept(settings)


def test_a_failure_after_storing_removes_the_stored_file(
    clinic_a: ClinicPeople, tiny_video: Path, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import services

    def broken_job_create(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "job_create", broken_job_create)
    with pytest.raises(RuntimeError):
        services.video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("clip.mp4", tiny_video.read_bytes())
        )
    _assert_nothing_kept(settings)


def test_patients_cannot_upload(clinic_a: ClinicPeople, tiny_video: Path, settings) -> None:
    client = api_client(clinic_a.patient)
    response = client.post(
        "/api/v1/videos/", {"file": SimpleUploadedFile("c.mp4", tiny_video.read_bytes())}, format="multipart"
    )
    assert response.status_code == 403
    _assert_nothing_kept(settings)


def test_uploads_are_rate_limited(clinic_a: ClinicPeople, settings) -> None:
    settings.UPLOAD_RATE_LIMIT = 2
    codes = [_post(clinic_a, "e.mp4", b"").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
