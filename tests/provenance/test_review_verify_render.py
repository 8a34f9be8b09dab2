"""Verify-page review findings (issue 9 findings 15 and 16) on copies of a stock-presenter render: a
fingerprint-only copy, a face pasted in, a bit flip in the manifest store. The video is rendered
once for the module (tests/provenance/conftest.py): these tests only read it and write copies."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from avatars.models import Video
from provenance.engine.media_io import iter_frames, video_info
from provenance.models import ProvenanceRecord
from provenance.services import Verdict, media_verify
from tests.provenance.conftest import RenderedOnce
from tests.provenance.test_review_verify import (  # noqa: F401
    OTHER_KEY,
    _donor,
    _fresh_index,
    _paste_face,
    _verify,
    _write,
)


def _upload_file(path: Path) -> io.BytesIO:
    body = io.BytesIO(path.read_bytes())
    body.name = path.name
    return body


@pytest.fixture
def clinic_a(rendered_once: RenderedOnce, db: None) -> Any:
    return rendered_once.clinic_a


@pytest.fixture
def clinic_b(rendered_once: RenderedOnce, db: None) -> Any:
    return rendered_once.clinic_b


def test_a_copy_that_only_matches_the_fingerprint_resembles_but_is_not_vouched_for(
    stock_render: Video, texts: Any, tmp_path: Path, settings: Any
) -> None:
    """Issue 9 finding 15: a copy without the watermark was answered `recognized` ("Recognized as
    <clinic>'s content by its fingerprint"), consent_active true, and the registered content id
    shown under `watermark` although `found` was false."""
    video = stock_render
    record = ProvenanceRecord.objects.get(video=video, output_kind="avatar_video")
    source = Path(default_storage.path(video.video_key))
    copy = _write(tmp_path / "copy.mp4", list(iter_frames(source, max_seconds=None)), video_info(source).fps)
    settings.PROVENANCE_WATERMARK_KEY = OTHER_KEY  # the mark cannot be read: only the fingerprint

    body = _verify(copy)
    assert body["verdict"] == Verdict.RESEMBLES == "resembles"
    assert body["headline"] == (
        f"Resembles {texts.clinic.name}'s video {record.content_id}, but is not the signed file and may "
        "have been altered: only its fingerprint matches (no signature, no watermark)."
    )
    assert body["consent_active"] is None and body["clinic"] == texts.clinic.name
    evidence = body["evidence"]
    assert evidence["watermark"]["found"] is False and evidence["watermark"]["content_id"] is None
    assert evidence["fingerprint"]["matched"] is True
    assert evidence["fingerprint"]["resembles_content_id"] == record.content_id
    # The drawn presenter's face was compared with the original's, and nothing differed.
    assert evidence["likeness"]["faces_compared"] >= 4 and evidence["likeness"]["faces_differ"] == []
    page = Client().post("/verify/", {"file": _upload_file(copy)}).content.decode()
    assert "but is not the signed file" in page and "found: content id" not in page


@pytest.mark.media
def test_a_real_face_pasted_into_a_registered_render_is_an_altered_copy(
    stock_render: Video, tmp_path: Path
) -> None:
    """Issue 9 finding 15: a face pasted into a registered render (the drawn presenter) is found."""
    donor = _donor()
    video = stock_render
    source = Path(default_storage.path(video.video_key))
    info = video_info(source)
    frames = [
        _paste_face(frame, donor) if index < 2 * float(info.fps) else frame
        for index, frame in enumerate(iter_frames(source, max_seconds=6.0))
    ]
    outcome = media_verify(_write(tmp_path / "pasted.mp4", frames, info.fps))
    assert outcome.verdict is Verdict.ALTERED_COPY, outcome.headline
    assert outcome.likeness is not None and outcome.likeness.face_ranges[0].start == 0.0
    assert outcome.likeness.face_ranges[-1].end <= 2.6
    assert "the face differs from the original at 0:00.0–" in outcome.headline


def test_a_bit_flip_that_breaks_the_manifest_store_reads_altered_not_a_server_error(
    stock_render: Video, tmp_path: Path
) -> None:
    """Issue 9 finding 16: a flip that made c2pa's reader raise KeyError ('Active manifest not found
    in manifest store') was a 500 on POST /api/v1/verify/."""
    import c2pa

    video = stock_render
    data = Path(default_storage.path(video.video_key)).read_bytes()
    start = data.index(bytes.fromhex("d8fec3d61b0e483c92975828877ec481")) - 8
    length = int.from_bytes(data[start : start + 4], "big")
    flipped = tmp_path / "flipped.mp4"
    for position in range(start, start + length):
        damaged = bytearray(data)
        damaged[position] ^= 1 << (position % 8)
        flipped.write_bytes(damaged)
        try:
            with flipped.open("rb") as handle, c2pa.Reader("video/mp4", handle) as reader:
                reader.get_active_manifest()
        except KeyError:
            break  # this flip is one of those that raised
        except Exception:
            continue
    else:
        pytest.fail("no flip of this manifest makes c2pa's reader raise KeyError any more")
    body = _verify(flipped)
    assert body["verdict"] == Verdict.ALTERED and body["evidence"]["manifest"]["state"] == "Invalid"
