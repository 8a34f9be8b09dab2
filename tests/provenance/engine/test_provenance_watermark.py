"""The invisible video watermark: payload coding, invisibility, robustness, no false ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from provenance_media import textured_frames, write_mp4

from provenance.engine import watermark as wm
from provenance.engine.media_io import transcode

KEY = b"candor-test-watermark-key-000001"
CONTENT_ID = 0x0123_4567_89AB_CDEF


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mp4(
        tmp_path_factory.mktemp("wm") / "clip.mp4",
        textured_frames(seconds=3.0, width=480, height=272, seed=5),
    )


@pytest.fixture(scope="module")
def marked(clip: Path) -> wm.EmbedResult:
    return wm.embed_video(clip, clip.with_name("marked.mp4"), key=KEY, content_id=CONTENT_ID)


def test_payload_round_trips_through_the_code_and_the_crc() -> None:
    coded = wm.conv_encode(wm.payload_bits(CONTENT_ID))
    soft = 2.0 * coded.astype(np.float64) - 1.0
    soft[::7] *= -0.3  # every 7th coded bit wrong but weak: the code must outvote it

    assert coded.size == wm.CODED_BITS
    assert wm.decode_payload(wm.viterbi_decode(soft)) == CONTENT_ID


def test_a_corrupted_payload_fails_the_crc() -> None:
    bits = wm.payload_bits(CONTENT_ID)
    bits[10] ^= 1

    assert wm.decode_payload(bits) is None


def test_embedding_keeps_psnr_at_least_38_db(marked: wm.EmbedResult) -> None:
    assert marked.psnr_db >= 38.0


def test_the_id_is_read_back_from_the_marked_file(marked: wm.EmbedResult) -> None:
    result = wm.detect_video(marked.path, key=KEY)

    assert result.content_id == CONTENT_ID
    assert result.content_id_hex == "0123456789abcdef"


@pytest.mark.parametrize(
    "attack",
    [
        {"crf": 28},
        {"scale": 0.5},
        {"crop": 0.1},
        {"crf": 28, "scale": 0.5, "crop": 0.1},
    ],
    ids=["crf28", "half-size", "crop10", "combined"],
)
def test_the_id_survives_what_platforms_do(
    attack: dict[str, float], marked: wm.EmbedResult, tmp_path: Path
) -> None:
    copy = transcode(marked.path, tmp_path / "copy.mp4", **attack)  # type: ignore[arg-type]

    assert wm.detect_video(copy, key=KEY).content_id == CONTENT_ID


def test_the_wrong_key_reads_no_id(marked: wm.EmbedResult) -> None:
    result = wm.detect_video(marked.path, key=b"some-other-platform-key")

    assert result.content_id is None


def test_an_unmarked_video_reads_no_id(clip: Path) -> None:
    result = wm.detect_video(clip, key=KEY)

    assert result.content_id is None
    assert result.sync_score < wm.SYNC_THRESHOLD


def test_the_analytical_false_positive_bound_is_tiny() -> None:
    assert wm.false_positive_bound() < 1e-9


def test_a_still_background_does_not_hide_the_mark(tmp_path: Path) -> None:
    # A talking head in front of a still wall: the picture hardly changes, so only the temporal
    # carrier separates the mark from the background.
    still = next(textured_frames(seconds=0.04, width=480, height=272, seed=11))
    frames = []
    embedder = wm.WatermarkEmbedder(key=KEY, content_id=CONTENT_ID, width=480, height=272, fps=25)
    for i in range(75):
        frame = still.copy()
        frame[100:160, 200:280] = np.clip(frame[100:160, 200:280].astype(int) + (i % 10) * 4, 0, 255)
        frames.append(embedder.embed(frame))
    copy = transcode(write_mp4(tmp_path / "still.mp4", iter(frames)), tmp_path / "copy.mp4", crf=28)

    assert wm.detect_video(copy, key=KEY).content_id == CONTENT_ID


def test_a_poster_jpeg_carries_the_static_mark(tmp_path: Path) -> None:
    from PIL import Image

    still = next(textured_frames(seconds=0.04, width=640, height=360, seed=12))
    embedder = wm.WatermarkEmbedder(key=KEY, content_id=CONTENT_ID, width=640, height=360)
    Image.fromarray(embedder.embed_still(still)).save(tmp_path / "poster.jpg", quality=85)

    assert wm.detect_image(tmp_path / "poster.jpg", key=KEY).content_id == CONTENT_ID
