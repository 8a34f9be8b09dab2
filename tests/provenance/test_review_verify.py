"""The public verify page after the outside review: a lookalike is not vouched for, a face swap or a
dub of a registered video is named an altered copy with its time ranges, and a damaged manifest is
a verdict, not a server error."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from numpy.typing import NDArray
from PIL import Image
from rest_framework.test import APIClient

from core.media.faces import detect_faces, similarity_to
from core.media.mp4 import Mp4Writer
from provenance.engine.media_io import iter_audio, iter_frames, video_info
from provenance.index import fingerprint_index_reset
from provenance.models import ProvenanceRecord
from provenance.services import (
    OutputProvenance,
    Verdict,
    media_verify,
    output_register,
    output_sign,
    output_watermark_video,
)
from tests.conftest import SHARED_MEDIA

OTHER_KEY = "a-different-key-that-cannot-read-the-watermark"
DONOR = SHARED_MEDIA / "faces" / "named" / "train" / "obama" / "obama.jpg"
GRID = SHARED_MEDIA / "talking" / "grid"


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    # Each test rolls its rows back; a row id may then be reused, which the index cannot notice.
    fingerprint_index_reset()
    yield
    fingerprint_index_reset()


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media is for internal evaluation, not in every checkout)")
    return path


def _verify(path: Path) -> dict[str, Any]:
    body = io.BytesIO(path.read_bytes())
    body.name = path.name
    response = APIClient().post("/api/v1/verify/", {"file": body}, format="multipart")
    assert response.status_code == 200, response.content
    return dict(response.json())


def _write(
    dest: Path, frames: list[NDArray[np.uint8]], fps: Any, *, sound: Path | None = None, crf: int = 23
) -> Path:
    height, width = frames[0].shape[:2]
    with Mp4Writer(dest, width=width, height=height, fps=fps, with_audio=sound is not None, crf=crf) as out:
        for frame in frames:
            out.write_frame(frame)
        if sound is not None:
            for chunk in iter_audio(sound):
                out.write_audio(chunk)
    return dest


def _paste_face(frame: NDArray[np.uint8], donor: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A face swap as a hobbyist makes one: the donor's face aligned on the frame's face by their
    landmarks and blended in with OpenCV's seamlessClone (a frame without a face is left alone)."""
    targets, (source,) = detect_faces(frame), detect_faces(donor, thorough=True)[:1]
    if not targets:
        return frame
    target = targets[0]
    height, width = frame.shape[:2]
    warped = cv2.warpAffine(
        donor, similarity_to(source.points, target.points), (width, height), borderMode=cv2.BORDER_REFLECT
    )
    left, top, right, bottom = target.box
    mask = np.zeros((height, width), np.uint8)
    centre = ((left + right) // 2, (top + bottom) // 2 + (bottom - top) // 10)
    cv2.ellipse(mask, centre, (int((right - left) * 0.45), int((bottom - top) * 0.6)), 0, 0, 360, 255, -1)
    ys, xs = np.nonzero(mask)
    middle = ((int(xs.min()) + int(xs.max())) // 2, (int(ys.min()) + int(ys.max())) // 2)
    return np.asarray(cv2.seamlessClone(warped, frame, mask, middle, cv2.NORMAL_CLONE), dtype=np.uint8)


def _donor() -> NDArray[np.uint8]:
    with Image.open(_need(DONOR)) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture
def registered_clip(clinic_a: Any, tmp_path: Path) -> ProvenanceRecord:
    """A real talking-head clip (GRID) the clinic watermarked, signed, stored and registered, as
    the anonymization pipeline registers its outputs."""
    source = _need(GRID / "bbaf2n.mpg")
    marked = output_watermark_video(source=source, dest=tmp_path / "marked.mp4")
    facts = OutputProvenance(
        clinic_id=str(clinic_a.clinic.id),
        clinic_name=clinic_a.clinic.name,
        ledger_entry_id="1",
        consent_ids=(),
        consent_hashes=(),
        disclosure_text="Teaching clip, recorded with consent.",
        output_kind="anonymized_video",
        content_id=marked.content_id,
    )
    signed = output_sign(source=marked.path, dest=tmp_path / "signed.mp4", provenance=facts, title="Clip")
    with signed.open("rb") as handle:
        key = default_storage.save("provenance-tests/signed.mp4", handle)
    return output_register(
        clinic_id=clinic_a.clinic.id,
        content_id=marked.content_id,
        output_kind="anonymized_video",
        path=signed,
        file_key=key,
    )


def _stored(record: ProvenanceRecord) -> Path:
    return Path(default_storage.path(record.file_key))


@pytest.mark.media
@pytest.mark.parametrize("watermark_readable", [True, False], ids=["watermark-kept", "watermark-lost"])
def test_a_face_swapped_copy_of_a_registered_real_clip_is_an_altered_copy_with_its_time_ranges(
    registered_clip: ProvenanceRecord, clinic_a: Any, tmp_path: Path, settings: Any, watermark_readable: bool
) -> None:
    """Issue 9 finding 15: three face-swapped copies of a registered video were answered `recognized`
    with consent active. The swap here runs from 1.0 s to 2.2 s of a 3 s clip."""
    signed = _stored(registered_clip)
    donor = _donor()
    frames = [
        _paste_face(frame, donor) if 25 <= index < 55 else frame
        for index, frame in enumerate(iter_frames(signed, max_seconds=None))
    ]
    copy = _write(tmp_path / "swapped.mp4", frames, video_info(signed).fps, sound=signed)
    if not watermark_readable:
        settings.PROVENANCE_WATERMARK_KEY = OTHER_KEY

    body = _verify(copy)
    assert body["verdict"] == Verdict.ALTERED_COPY == "altered_copy", body
    assert body["consent_active"] is None and body["clinic"] == clinic_a.clinic.name
    differ = body["evidence"]["likeness"]["faces_differ"]
    # Faces are compared every 0.5 s (a frame the swapper missed may sit on a sample).
    assert len(differ) == 1 and 1.0 <= differ[0]["start"] <= 1.5 and differ[0]["end"] == 2.5, differ
    start = "0:01.0" if differ[0]["start"] == 1.0 else "0:01.5"
    assert body["headline"] == (
        f"An altered copy of {clinic_a.clinic.name}'s video {registered_clip.content_id}, not the signed "
        f"file: the face differs from the original at {start}–0:02.5."
    )
    assert body["evidence"]["likeness"]["voice_compared"] is True
    assert body["evidence"]["likeness"]["voice_differs"] == []
    assert body["evidence"]["watermark"]["found"] is watermark_readable


@pytest.mark.media
def test_a_copy_dubbed_with_another_voice_is_an_altered_copy(
    registered_clip: ProvenanceRecord, tmp_path: Path
) -> None:
    """Issue 9 finding 15: the voice is compared too when both files have sound."""
    signed = _stored(registered_clip)
    other_speaker = _need(GRID / "lwbsza.mpg")
    copy = _write(
        tmp_path / "dubbed.mp4",
        list(iter_frames(signed, max_seconds=None)),
        video_info(signed).fps,
        sound=other_speaker,
    )
    outcome = media_verify(copy)
    assert outcome.verdict is Verdict.ALTERED_COPY, outcome.headline
    assert outcome.likeness is not None and outcome.likeness.face_ranges == ()
    assert outcome.likeness.voice_similarity is not None and outcome.likeness.voice_similarity < 0.78
    assert "the voice differs from the original at 0:00.0–0:03" in outcome.headline


@pytest.mark.media
def test_a_plain_reencoded_copy_of_a_registered_real_clip_is_recognized_not_altered(
    registered_clip: ProvenanceRecord, tmp_path: Path
) -> None:
    signed = _stored(registered_clip)
    frames = list(iter_frames(signed, max_seconds=None))
    outcome = media_verify(
        _write(tmp_path / "copy.mp4", frames, video_info(signed).fps, sound=signed, crf=32)
    )
    assert outcome.verdict is Verdict.RECOGNIZED, outcome.headline
    assert outcome.likeness is not None and outcome.likeness.faces_compared >= 4
    assert outcome.likeness.voice_compared and not outcome.likeness.differs
