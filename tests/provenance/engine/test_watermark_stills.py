"""The watermark detector on still images: an honest sync statistic, and no exception on bad files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from provenance_media import SHARED_MEDIA, textured_frames

from provenance.engine import watermark as wm

KEY = b"candor-test-watermark-key-for-stills"
CONTENT_ID = 0x0DDBA11C0FFEE123
# The bench key that pushed these real, unmarked pictures over the threshold before the fix
# (bench/provenance_watermark_stills.py, key 0).
BENCH_KEY = b"candor-bench-stills-key-00-0123456789abcdef"
WORST_STILLS = (
    ("forgery/dfdc/videos/abofeumbvv.mp4", 171),
    ("talking/grid/pwij3p.mpg", 21),
    ("talking/grid/swiz3n.mpg", 21),
    ("forgery/dfdc/videos/abqwwspghj.mp4", 43),
    ("faces/named/train/alex_lacamoire/img1.jpg", None),
    ("faces/other/obama_partial_face.jpg", None),
    ("forgery/faceforensics/ex_original_actors.png", None),
)


def _still(relative: str, frame: int | None) -> np.ndarray:
    path = SHARED_MEDIA / relative
    if frame is None:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    from provenance.engine.media_io import iter_frames

    for index, rgb in enumerate(iter_frames(path, max_seconds=None)):
        if index == frame:
            return rgb
    raise AssertionError(f"{relative} has no frame {frame}")


def test_unmarked_stills_score_like_the_null_of_one_surface_not_two() -> None:
    """Issue 9 finding 17: on a single frame the carrier decode's sine half is all zeros, yet its
    z treated the pair as two noise halves: every unmarked still scored about sqrt(2) too high."""
    scores = []
    for seed in range(4):
        still = next(textured_frames(seconds=0.04, width=480, height=270, seed=40 + seed))
        for key in (KEY, KEY + b"-2"):
            scores.append(wm.detect_frames([still], key=key).sync_score)
    # The largest |N(0,1)| of ~6.7 million (correlated) surface points is about 5.2; inflated by
    # sqrt(2) it was about 7.3, a hair below the threshold.
    assert 4.0 < float(np.mean(scores)) < 6.0, scores
    assert max(scores) < wm.SYNC_THRESHOLD


@pytest.mark.media
def test_real_unmarked_stills_that_crossed_the_threshold_no_longer_do() -> None:
    """Issue 9 finding 17: these real pictures reached sync z 7.6-8.2 (threshold 7.5) unmarked."""
    if not SHARED_MEDIA.exists():
        pytest.skip(f"{SHARED_MEDIA} is absent (internal evaluation media, not in every checkout)")
    for relative, frame in WORST_STILLS:
        result = wm.detect_frames([_still(relative, frame)], key=BENCH_KEY)
        assert result.sync_score < 6.5 and not result.found, (relative, frame, result.sync_score)


def test_a_frame_grabbed_from_a_marked_video_is_still_read_whatever_the_carriers_sign() -> None:
    frames = list(textured_frames(seconds=0.6, width=640, height=360, seed=7))
    embedder = wm.WatermarkEmbedder(key=KEY, content_id=CONTENT_ID, width=640, height=360, fps=25)
    marked = [embedder.embed(frame) for frame in frames]
    # Frame 12 is shown at 0.48 s, where the carrier is at cos(0.96 pi): the mark is inverted.
    assert math.cos(2 * math.pi * 12 / 25) < -0.9
    for grabbed in (marked[0], marked[12]):
        assert wm.detect_frames([grabbed], key=KEY).content_id == CONTENT_ID


def test_the_still_bound_is_stated_on_its_own_and_is_tiny() -> None:
    still, video = wm.false_positive_bound(still=True), wm.false_positive_bound()
    assert still < video < 1e-9 and still < 1e-11


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(next(textured_frames(seconds=0.04, width=64, height=48))).save(buffer, format="PNG")
    return buffer.getvalue()


def _bad_ihdr_crc() -> bytes:
    data = bytearray(_png())
    data[29] ^= 0xFF  # the IHDR chunk's CRC: FFmpeg decodes such a file, Pillow refuses it
    return bytes(data)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(_bad_ihdr_crc(), id="png-bad-ihdr-crc"),
        pytest.param(_png()[:60], id="png-truncated"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, id="png-signature-then-noise"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 300, id="jpeg-header-only"),
        pytest.param(b"", id="empty"),
    ],
)
def test_an_image_pillow_refuses_reads_as_no_watermark(content: bytes, tmp_path: Path) -> None:
    """Issue 9 finding 7/17: a PNG with a corrupted IHDR CRC raised UnidentifiedImageError in the
    watermark image detector (a 500 on the verify page)."""
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    result = wm.detect_image(path, key=KEY)
    assert not result.found and result.sync_score == 0.0
