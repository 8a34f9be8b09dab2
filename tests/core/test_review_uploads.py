"""Issue 9 findings 2 and 7: upload validation measures a video's length from its data, and accepts
an image only if every decoder the product uses reads it.

Finding 2: a WebM whose Segment Duration was removed (16×16 VP8, 1 fps, 14,400 frames = 4 hours)
was accepted by video upload, the consent-statement upload and verify. Finding 7: a PNG with a
broken header checksum (FFmpeg decodes it, Pillow refuses it) was a 500 at the verify API and page
and as a portrait, with Django's debug page for an anonymous visitor in the demo.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from avatars.models import Enrollment
from consent.models import LedgerEntry, LikenessConsent
from core.media.errors import MediaError
from core.media.probe import Limits, probe, sniff
from core.models import MediaJob, Upload
from tests.hostile.client import visible_errors
from tests.hostile.make_corpus import jpeg, long_webm, png
from tests.support import PASSWORD, ClinicPeople, api_client, signed_in_client

FOUR_HOURS = 4 * 3600


@pytest.fixture(scope="module")
def four_hours_without_duration() -> bytes:
    """The reviewer's file: 14,400 frames of 16×16 VP8 at 1 fps, Segment Duration removed."""
    return long_webm(FOUR_HOURS, duration="removed")


@pytest.fixture
def awaiting_statement(texts: ClinicPeople) -> LikenessConsent:
    from consent.services import likeness_consent_sign
    from tests.consent.conftest import scope

    return likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)


def _nothing_kept(settings: Any) -> None:
    assert Upload.objects.count() == 0
    assert MediaJob.objects.count() == 0
    assert not Enrollment.objects.exclude(kind="stock").exists()
    root = Path(settings.MEDIA_ROOT)
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def _refused_json(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code and body["message"], body
    return body


# --- finding 2: the length is measured from the data --------------------------------------------


def test_an_hours_long_webm_without_a_duration_is_refused_by_video_upload(
    clinic_a: ClinicPeople, four_hours_without_duration: bytes, settings: Any
) -> None:
    """Issue 9 finding 2: the 4-hour WebM without a Segment Duration was accepted by video upload."""
    response = api_client(clinic_a.clinician).post(
        "/api/v1/videos/",
        {"file": SimpleUploadedFile("long.webm", four_hours_without_duration)},
        format="multipart",
    )

    body = _refused_json(response, "media_too_long")
    assert "30 minutes" in body["message"]
    _nothing_kept(settings)


def test_an_hours_long_webm_without_a_duration_is_refused_as_a_consent_statement(
    awaiting_statement: LikenessConsent, four_hours_without_duration: bytes, settings: Any
) -> None:
    """Issue 9 finding 2: the 4-hour WebM was accepted as a consent statement (API and page)."""
    clinician = awaiting_statement.clinician
    url = f"/api/v1/consents/likeness/{awaiting_statement.id}/evidence/"
    response = api_client(clinician).post(
        url, {"file": SimpleUploadedFile("statement.webm", four_hours_without_duration)}, format="multipart"
    )
    _refused_json(response, "media_too_long")

    page = signed_in_client(clinician).post(
        f"/consent/likeness/{awaiting_statement.id}/evidence/",
        {"file": SimpleUploadedFile("statement.webm", four_hours_without_duration)},
    )
    assert 400 <= page.status_code < 500, page.status_code
    assert any("30 minutes" in error for error in visible_errors(page.content.decode())), page.content[-3000:]
    awaiting_statement.refresh_from_db()
    assert awaiting_statement.evidence_upload_id is None
    _nothing_kept(settings)


def test_an_hours_long_webm_without_a_duration_is_refused_by_verify(
    db: None, four_hours_without_duration: bytes, settings: Any
) -> None:
    """Issue 9 finding 2: the public verify API checked the 4-hour WebM instead of refusing it."""
    entries = LedgerEntry.objects.count()

    response = Client().post(
        "/api/v1/verify/", {"file": SimpleUploadedFile("long.webm", four_hours_without_duration)}
    )

    _refused_json(response, "media_too_long")
    assert LedgerEntry.objects.count() == entries


def test_a_header_that_claims_ten_seconds_does_not_hide_four_hours_of_video(
    clinic_a: ClinicPeople, settings: Any
) -> None:
    """Issue 9 finding 2: the limit is checked on what the data covers, not on what the header says."""
    lying = long_webm(FOUR_HOURS, step=60.0, duration="short")

    response = api_client(clinic_a.clinician).post(
        "/api/v1/videos/", {"file": SimpleUploadedFile("short.webm", lying)}, format="multipart"
    )

    _refused_json(response, "media_too_long")
    _nothing_kept(settings)


def test_a_video_without_a_duration_within_the_limit_is_accepted_with_its_measured_length(
    clinic_a: ClinicPeople,
) -> None:
    """Issue 9 finding 2 (a guard for the fix, passing before and after it): measuring the length
    from the data must not refuse a file within the limit."""
    twenty_minutes = long_webm(20 * 60, step=2.0, duration="removed")

    response = api_client(clinic_a.clinician).post(
        "/api/v1/videos/", {"file": SimpleUploadedFile("talk.webm", twenty_minutes)}, format="multipart"
    )

    assert response.status_code == 202, response.json()
    assert Upload.objects.get().duration_seconds == pytest.approx(20 * 60, abs=2.5)


def _probe_seconds(path: Path, limits: Limits) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(MediaError) as refused:
        probe(path, sniff(path.read_bytes()[:64]) or pytest.fail("not sniffed"), limits)
    return refused.value.code, time.perf_counter() - started


def test_an_hours_long_video_is_refused_without_being_read_to_its_end(tmp_path: Path) -> None:
    """Issue 9 finding 2: decoding stops once the limit is passed, so forty hours cost what one
    minute does (reading all 144,000 packets takes over a second; stopping at the limit, ms)."""
    limits = Limits(max_duration_seconds=60, max_dimension=4096, min_dimension=16, max_fps=120)
    forty_hours = tmp_path / "forty-hours.webm"
    forty_hours.write_bytes(long_webm(40 * 3600, duration="removed"))
    two_minutes = tmp_path / "two-minutes.webm"
    two_minutes.write_bytes(long_webm(120, duration="removed"))

    code_short, _ = _probe_seconds(two_minutes, limits)
    code_long, seconds = _probe_seconds(forty_hours, limits)

    assert code_short == code_long == "media_too_long"
    assert seconds < 0.5, f"probing took {seconds:.2f} s: the whole file was read"


# --- finding 7: an image is accepted only if Pillow and FFmpeg both read it -----------------------

BAD_CHECKSUM_PNG = png(64, 64, ihdr_crc_ok=False)


def test_a_png_with_a_broken_header_checksum_is_refused_by_the_verify_api(db: None) -> None:
    """Issue 9 finding 7: FFmpeg decoded the PNG, Pillow could not, and the verify API answered 500."""
    response = Client().post("/api/v1/verify/", {"file": SimpleUploadedFile("p.png", BAD_CHECKSUM_PNG)})

    body = _refused_json(response, "media_undecodable")
    assert "damaged" in body["message"]


def test_a_png_with_a_broken_header_checksum_is_refused_by_the_verify_page(db: None) -> None:
    """Issue 9 finding 7: the public verify page answered 500 for the PNG."""
    response = Client().post("/verify/", {"file": SimpleUploadedFile("p.png", BAD_CHECKSUM_PNG)})

    assert response.status_code == 422
    assert any("damaged" in error for error in visible_errors(response.content.decode()))


def test_a_visitor_never_sees_a_debug_page_for_it_in_the_demo(db: None, settings: Any) -> None:
    """Issue 9 finding 7: in the demo (DEBUG) an anonymous visitor saw Django's full debug page."""
    settings.DEBUG = True
    visitor = Client(raise_request_exception=False)

    for url in ("/verify/", "/api/v1/verify/"):
        response = visitor.post(url, {"file": SimpleUploadedFile("p.png", BAD_CHECKSUM_PNG)})
        assert response.status_code == 422, (url, response.status_code)
        assert b"Traceback" not in response.content and b"technical_500" not in response.content


@pytest.mark.parametrize(
    "name,data",
    [
        ("portrait.png", BAD_CHECKSUM_PNG),
        # FFmpeg draws the missing two thirds in grey; Pillow refuses the cut file.
        ("portrait.jpg", jpeg(64, 64)[: len(jpeg(64, 64)) * 2 // 3]),
    ],
)
def test_an_image_pillow_cannot_read_is_refused_as_a_portrait(
    texts: ClinicPeople, name: str, data: bytes, settings: Any
) -> None:
    """Issue 9 finding 7: reading the portrait raised an uncaught MediaInputError (a 500)."""
    from avatars.services import enrollment_stock_get_or_create

    enrollment_stock_get_or_create(actor=texts.clinician)
    entries = LedgerEntry.objects.count()

    response = signed_in_client(texts.clinician).post("/studio/", {"photo": SimpleUploadedFile(name, data)})

    assert 400 <= response.status_code < 500, response.status_code
    assert any("damaged" in error for error in visible_errors(response.content.decode()))
    assert LedgerEntry.objects.count() == entries
    _nothing_kept(settings)
