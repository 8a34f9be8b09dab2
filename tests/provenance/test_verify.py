"""Verification end to end: rendered stock-presenter videos are watermarked, signed and registered,
and the public verify page and API say whose they are and whether their consent still holds."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from rest_framework.test import APIClient

from avatars.models import Video, VideoStatus
from avatars.services import render_request, script_approve
from consent.models import LedgerEntry
from consent.services import likeness_consent_revoke
from core.models import Upload
from provenance.index import fingerprint_index, fingerprint_index_reset
from provenance.models import ProvenanceRecord
from provenance.services import Verdict, media_verify
from tests.avatars.conftest import run_job
from tests.avatars.quality_gate_support import open_quality_gate
from tests.avatars.test_studio import _script, _stock_video, footage_enrollment  # noqa: F401
from tests.conftest import SHARED_MEDIA
from tests.consent.conftest import active_consent

NON_MEDIA = {".json", ".align", ".dcm", ".md", ".txt", ".flac", ".wav"}


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    # Each test rolls its rows back; a row id may then be reused, which the index cannot notice.
    fingerprint_index_reset()
    yield
    fingerprint_index_reset()


@pytest.fixture
def studio(texts: Any) -> Any:
    return texts


def _path(video: Video) -> Path:
    return Path(default_storage.path(video.video_key))


def _upload(client: Any, path: Path, name: str | None = None, data: bytes | None = None) -> Any:
    body = io.BytesIO(path.read_bytes() if data is None else data)
    body.name = name or path.name
    return client.post("/api/v1/verify/", {"file": body}, format="multipart")


def _reencode(source: Path, dest: Path, *, crf: int = 28, scale: float = 1.0) -> Path:
    """What a social platform does: decode, resize, encode again; the manifest does not survive."""
    import cv2

    from core.media.mp4 import Mp4Writer
    from provenance.engine.media_io import iter_frames, video_info

    info = video_info(source)
    width, height = (round(info.width * scale) // 2 * 2, round(info.height * scale) // 2 * 2)
    with Mp4Writer(dest, width=width, height=height, fps=info.fps, with_audio=False, crf=crf) as writer:
        for rgb in iter_frames(source):
            writer.write_frame(rgb if scale == 1.0 else cv2.resize(rgb, (width, height)))
    return dest


def test_another_clinics_output_names_that_clinic(
    texts: Any, clinic_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    other = _stock_video(clinic_b, django_capture_on_commit_callbacks)
    outcome = media_verify(_path(other))
    assert outcome.verdict is Verdict.SIGNED_CONSENT_ACTIVE
    assert outcome.clinic_name == clinic_b.clinic.name == "Clinic beta"


@pytest.mark.media
def test_revoking_the_likeness_consent_shows_on_verify(
    studio: Any,
    request: pytest.FixtureRequest,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_quality_gate(monkeypatch)  # the subject is verification; a footage render of GRID is held
    enrollment = request.getfixturevalue("footage_enrollment")  # GRID footage, enrolled
    consent = active_consent(studio, synthetic_voice_allowed=True)
    script = _script(studio, enrollment)
    script_approve(actor=studio.clinician, script_id=script.id)
    with django_capture_on_commit_callbacks(execute=False):
        video = render_request(actor=studio.clinician, script_id=script.id)
    run_job(video.job)
    video.refresh_from_db()
    assert video.status == VideoStatus.IN_REVIEW, video.job.error_message
    assert media_verify(_path(video)).verdict is Verdict.SIGNED_CONSENT_ACTIVE
    likeness_consent_revoke(actor=studio.clinician, consent_id=consent.id)
    outcome = media_verify(_path(video))
    assert outcome.verdict is Verdict.SIGNED_CONSENT_WITHDRAWN and outcome.consent_active is False
    assert outcome.source_type.endswith("/trainedAlgorithmicMedia")


@pytest.fixture
def registered(clinic_a: Any, tiny_video: Path) -> ProvenanceRecord:
    """One registered video without a render, so the index is not empty."""
    from provenance.services import output_register

    return output_register(
        clinic_id=clinic_a.clinic.id,
        content_id="00000000000000aa",
        output_kind="avatar_video",
        path=tiny_video,
    )


@pytest.mark.media
def test_files_in_shared_media_have_no_platform_provenance(registered: ProvenanceRecord) -> None:
    if not SHARED_MEDIA.exists():
        pytest.skip(f"{SHARED_MEDIA} is absent (internal evaluation media, not in every checkout)")
    files = sorted(p for p in SHARED_MEDIA.rglob("*") if p.is_file() and p.suffix.lower() not in NON_MEDIA)
    assert files and len(fingerprint_index()) == 1
    verdicts = {str(p.relative_to(SHARED_MEDIA)): media_verify(p) for p in files}
    matched = {name: o.verdict for name, o in verdicts.items() if o.verdict is not Verdict.NO_PROVENANCE}
    assert matched == {}
    assert not any(o.watermark_found or o.fingerprint_match or o.clinic_name for o in verdicts.values())


def test_verification_is_rate_limited_per_address(settings: Any, tiny_video: Path, db: None) -> None:
    settings.PROVENANCE_VERIFY_RATE_LIMIT = 2
    client = APIClient()
    assert [_upload(client, tiny_video).status_code for _ in range(2)] == [200, 200]
    refused = _upload(client, tiny_video)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    other = APIClient(REMOTE_ADDR="10.0.0.9")
    assert _upload(other, tiny_video).status_code == 200


def test_an_unrelated_video_has_no_platform_provenance(tiny_video: Path, db: None) -> None:
    body = _upload(APIClient(), tiny_video).json()
    assert body["verdict"] == Verdict.NO_PROVENANCE and body["clinic"] is None
    assert body["headline"] == "No platform provenance found."
    assert body["evidence"]["fingerprint"]["checked"] is True
    assert body["evidence"]["fingerprint"]["matched"] is False


@pytest.mark.parametrize(
    "name,make,status,code",
    [
        ("empty.mp4", lambda video: b"", 400, "upload_empty"),
        ("sound.mp4", lambda video: _wav_bytes(), 415, "upload_wrong_kind"),
        ("cut.mp4", lambda video: video[: len(video) // 2], 422, None),
        ("notes.mp4", lambda video: b"just some text, not a video at all" * 4, 415, "upload_unknown_type"),
    ],
)
def test_bad_uploads_are_refused_clearly_and_leave_nothing_behind(
    name: str,
    make: Any,
    status: int,
    code: str | None,
    tiny_video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    db: None,
) -> None:
    scratch_root = tmp_path / "scratch"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    response = _upload(APIClient(), tiny_video, name=name, data=make(tiny_video.read_bytes()))
    body = response.json()
    assert response.status_code == status, body
    assert body["message"] and (code is None or body["code"] == code)
    assert list(scratch_root.iterdir()) == []
    assert not Upload.objects.exists() and not ProvenanceRecord.objects.exists()
    media_root = Path(settings.MEDIA_ROOT)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))
    assert not LedgerEntry.objects.filter(event_type="provenance.verified").exists()


def test_a_checked_file_is_deleted_after_checking(
    tiny_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any, db: None
) -> None:
    scratch_root = tmp_path / "scratch"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    assert _upload(APIClient(), tiny_video).status_code == 200
    assert list(scratch_root.iterdir()) == []
    media_root = Path(settings.MEDIA_ROOT)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_the_verify_page_is_public_and_linked_from_every_page(tiny_video: Path, db: None) -> None:
    client = Client()
    page = client.get("/verify/")
    assert page.status_code == 200 and b"Verify a video or image" in page.content
    assert b'href="/verify/">Verify a video</a>' in client.get("/account/login/").content
    with tiny_video.open("rb") as handle:
        result = client.post("/verify/", {"file": handle})
    assert result.status_code == 200
    assert b"No platform provenance found." in result.content and b"Evidence" in result.content
    # Issue 15 item 9: the unsigned file's state was printed as a raw value ("none found None").
    assert b"none found" in result.content and b">None<" not in result.content


def test_the_verify_page_shows_upload_problems_next_to_the_field(db: None) -> None:
    empty = io.BytesIO(b"")
    empty.name = "empty.mp4"
    page = Client().post("/verify/", {"file": empty})
    assert page.status_code == 400 and b"The file is empty (0 bytes)." in page.content


def test_the_index_adds_records_as_they_are_created_and_matches_them(
    registered: ProvenanceRecord, tiny_video: Path, tmp_path: Path
) -> None:
    from provenance.engine.fingerprint import fingerprint_video
    from provenance.services import output_register

    assert len(fingerprint_index()) == 1
    copy = _reencode(tiny_video, tmp_path / "copy.mp4", crf=30)
    output_register(
        clinic_id=registered.clinic_id, content_id="00000000000000bb", output_kind="poster", path=tiny_video
    )
    assert len(fingerprint_index()) == 1  # posters have no fingerprint
    match = fingerprint_index().match(fingerprint_video(copy, for_query=True))
    assert match is not None and match.video_id == registered.content_id


def test_a_png_named_mp4_is_checked_as_the_image_it_is(db: None) -> None:
    # The contents decide the type, and posters are images, so this is verified, not refused.
    body = _upload(APIClient(), Path("poster.mp4"), data=_png_bytes()).json()
    assert body["verdict"] == Verdict.NO_PROVENANCE and body["evidence"]["manifest"]["state"] == "None"


def _wav_bytes() -> bytes:
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x01" * 16000)
    return buffer.getvalue()


def _png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_production_refuses_to_start_without_a_watermark_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://x@127.0.0.1/x",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CANDOR_VAR_DIR": str(tmp_path),
    }
    env.pop("CANDOR_PROVENANCE_WATERMARK_KEY", None)
    env.pop("CANDOR_PROVENANCE_WATERMARK_KEY_FILE", None)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "CANDOR_PROVENANCE_WATERMARK_KEY" in done.stderr


def test_development_generates_a_watermark_key_once(settings: Any, tmp_path: Path) -> None:
    from provenance.services import watermark_key

    settings.PROVENANCE_WATERMARK_KEY = ""
    settings.PROVENANCE_WATERMARK_KEY_PATH = tmp_path / "keys" / "watermark.key"
    first = watermark_key()
    assert len(first) == 64 and watermark_key() == first
    assert (settings.PROVENANCE_WATERMARK_KEY_PATH.stat().st_mode & 0o777) == 0o600


def test_a_manifest_from_outside_the_platform_cannot_claim_a_clinics_content(
    registered: ProvenanceRecord, tmp_path: Path
) -> None:
    from provenance.engine import keys
    from provenance.engine.c2pa_sign import ConsentAssertion, sign_media

    forger_root = keys.generate_root_ca()
    forger = keys.issue_clinic_identity(
        forger_root, clinic_id=str(registered.clinic_id), clinic_name="Clinic alpha"
    )
    claim = ConsentAssertion(
        clinic_id=str(registered.clinic_id),
        ledger_entry_id="1",
        consent_ids=(),
        content_id=registered.content_id,
    )
    other = _stripes(tmp_path / "other.mp4")
    forged = sign_media(other, tmp_path / "forged.mp4", identity=forger, consent=claim).path
    outcome = media_verify(forged)
    assert outcome.manifest_state == "Valid"
    assert outcome.verdict is Verdict.NO_PROVENANCE and outcome.clinic_name == ""
    # Broken, it reads as altered, and still names no clinic: its claims are not evidence.
    data = bytearray(forged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "broken.mp4").write_bytes(bytes(data))
    broken = media_verify(tmp_path / "broken.mp4")
    assert broken.verdict is Verdict.ALTERED and broken.clinic_name == "" and broken.content_id == ""


def _stripes(path: Path) -> Path:
    """A 2-second clip that looks nothing like the demo video: moving diagonal stripes."""
    import numpy as np

    from core.media.mp4 import Mp4Writer

    rows, cols = np.mgrid[0:96, 0:160]
    with Mp4Writer(path, width=160, height=96, fps=25, with_audio=False) as writer:
        for t in range(50):
            grey = (127 + 100 * np.sin((rows + cols + 3 * t) / 6.0)).astype(np.uint8)
            writer.write_frame(np.stack([grey, grey[::-1], 255 - grey], axis=-1))
    return path
