"""A damaged or edited file is still read when only a few packets are broken, and refused when most are.

An edited copy of a signed video is exactly what the scanner must report on ("provenance tampered"),
so a flipped byte in one packet may not turn the scan into a read error (CI run of 2026-12-01: a
changed copy failed with `media_truncated` when the flipped byte fell in an AAC packet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from detection_media import textured_frames, write_video

from detection.engine import DetectionInputError
from detection.engine.media import iter_frames, read_audio


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    noise = np.random.default_rng(0).normal(0, 0.1, 48_000 * 4).astype(np.float32)
    return write_video(
        tmp_path_factory.mktemp("damaged") / "clip.mp4", textured_frames(seconds=4), audio=noise
    )


def _garbled(clip: Path, out: Path, *, stream: str, which: slice) -> Path:
    """A copy of `clip` whose chosen packets of one stream are overwritten with 0xFF bytes."""
    import av

    with av.open(str(clip)) as container:
        chosen = container.streams.audio[0] if stream == "audio" else container.streams.video[0]
        packets = [(p.pos, p.size) for p in container.demux(chosen) if p.size]
    data = bytearray(clip.read_bytes())
    for pos, size in packets[which]:
        data[pos : pos + size] = b"\xff" * size
    out.write_bytes(data)
    return out


def test_one_garbled_sound_packet_is_skipped_and_the_rest_of_the_sound_read(
    clip: Path, tmp_path: Path
) -> None:
    damaged = _garbled(clip, tmp_path / "one.mp4", stream="audio", which=slice(10, 11))
    samples = read_audio(damaged)
    assert samples is not None
    assert 3.9 <= len(samples) / 16_000 <= 4.1


def test_one_garbled_video_packet_leaves_the_other_frames_readable(clip: Path, tmp_path: Path) -> None:
    damaged = _garbled(clip, tmp_path / "frame.mp4", stream="video", which=slice(40, 41))
    assert len(list(iter_frames(damaged))) >= 90  # of 100; the decoder may drop up to the next keyframe


def test_sound_whose_packets_are_all_garbled_is_refused_as_damaged(clip: Path, tmp_path: Path) -> None:
    damaged = _garbled(clip, tmp_path / "all.mp4", stream="audio", which=slice(None))
    with pytest.raises(DetectionInputError) as refused:
        read_audio(damaged)
    assert refused.value.code == "media_truncated"
