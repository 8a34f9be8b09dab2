"""The media toolkit's reading side (runs without Django: `pytest -p no:django tests/core/media`)."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.media import decode
from core.media.decode import VideoInfo
from core.media.errors import MediaError
from core.media.mp4 import Mp4Writer

RATE = 48_000


def _clip(path: Path, *, frames: int = 20, fps: Any = 25, audio_seconds: float | None = 1.0) -> Path:
    rng = np.random.default_rng(3)
    with Mp4Writer(path, width=96, height=64, fps=fps, with_audio=audio_seconds is not None) as out:
        for index in range(frames):
            frame = np.full((64, 96, 3), (40 + index * 3) % 256, dtype=np.uint8)
            frame[10:30, 10:50] = rng.integers(0, 255, (20, 40, 3), dtype=np.uint8)
            out.write_frame(frame)
        if audio_seconds is not None:
            t = np.arange(int(audio_seconds * RATE)) / RATE
            out.write_audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    return path


def test_video_info_reads_size_exact_rate_frames_and_sound(tmp_path: Path) -> None:
    info = decode.video_info(_clip(tmp_path / "a.mp4", frames=20))
    assert (info.width, info.height, info.rate, info.fps) == (96, 64, Fraction(25), 25.0)
    assert info.frame_count == 20 and info.has_audio
    assert info.duration is not None and 0.7 < info.duration < 1.2
    silent = decode.video_info(_clip(tmp_path / "b.mp4", audio_seconds=None))
    assert silent.has_audio is False


def test_a_float_rate_is_encoded_as_its_ntsc_fraction(tmp_path: Path) -> None:
    info = decode.video_info(_clip(tmp_path / "ntsc.mp4", fps=30000 / 1001, audio_seconds=None))
    assert info.rate == Fraction(30000, 1001)


def test_video_info_refuses_garbage_and_files_without_video(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 50)
    with pytest.raises(MediaError) as refused:
        decode.video_info(garbage)
    assert refused.value.code == "media_undecodable" and "garbage.mp4" in refused.value.message
    sound = tmp_path / "sound.wav"
    import soundfile

    soundfile.write(sound, np.zeros(RATE, dtype=np.float32), RATE)
    with pytest.raises(MediaError) as no_video:
        decode.video_info(sound)
    assert no_video.value.code == "media_no_video"


def test_fast_rgb_stays_within_a_few_levels_of_the_exact_conversion_and_luma_is_the_y_plane(
    tmp_path: Path,
) -> None:
    path = _clip(tmp_path / "c.mp4", audio_seconds=None)
    with decode.open_input(path) as container:
        frame = next(container.decode(video=0))
        fast, exact = decode.to_rgb(frame), decode.to_rgb(frame, exact=True)
        luma = decode.to_luma(frame)
        planes = np.asarray(frame.to_ndarray(), dtype=np.uint8)  # yuv420p: Y rows, then U and V
    assert fast.shape == exact.shape == (64, 96, 3) and fast.dtype == np.uint8
    assert int(np.abs(fast.astype(int) - exact.astype(int)).max()) <= 3
    assert frame.format.name == "yuv420p"
    assert luma.shape == (64, 96) and np.array_equal(luma, planes[:64])


def test_iter_rgb_yields_every_frame_through_the_given_decoder(tmp_path: Path) -> None:
    path = _clip(tmp_path / "d.mp4", frames=12, audio_seconds=None)
    calls: list[int] = []

    def counting(container: Any, stream: Any) -> Iterator[Any]:
        calls.append(stream.index)
        yield from container.decode(stream)

    with decode.open_input(path) as container:
        frames = list(decode.iter_rgb(container, decode=counting))
    assert len(frames) == 12 and calls == [0]
    assert all(frame.shape == (64, 96, 3) for frame in frames)


def test_audio_is_mono_float32_at_the_asked_rate_cut_to_start_and_length(tmp_path: Path) -> None:
    path = _clip(tmp_path / "e.mp4", frames=50, audio_seconds=2.0)
    with decode.open_input(path) as container:
        whole = decode.read_audio(container, rate=16_000)
    assert whole is not None and whole.dtype == np.float32 and whole.ndim == 1
    assert abs(len(whole) - 32_000) < 2_000  # AAC priming and padding add a few ms
    with decode.open_input(path) as container:
        part = decode.read_audio(container, rate=16_000, start_seconds=0.5, max_seconds=1.0)
    assert part is not None and len(part) == 16_000
    np.testing.assert_allclose(part[:1000], whole[8_000:9_000], atol=1e-6)
    with decode.open_input(_clip(tmp_path / "f.mp4", audio_seconds=None)) as container:
        assert decode.read_audio(container, rate=16_000) is None


def test_read_image_applies_exif_orientation_drops_alpha_and_refuses_garbage(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (40, 20), (200, 10, 10, 128))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    path = tmp_path / "turned.png"
    picture.save(path, exif=exif)
    rgb = decode.read_image(path)
    assert rgb.shape == (40, 20, 3) and rgb.dtype == np.uint8
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    with pytest.raises(MediaError) as refused:
        decode.read_image(broken)
    assert refused.value.code == "media_undecodable"


def test_every_engine_uses_the_one_video_info() -> None:
    from avatars.engine import media as avatars_media
    from provenance.engine import media_io

    assert avatars_media.VideoInfo is VideoInfo and media_io.VideoInfo is VideoInfo
