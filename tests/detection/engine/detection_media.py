"""Generated media for the detection engine tests (no real person), and the shared media's location."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media.mp4 import Mp4Writer
from tests.media_location import SHARED_MEDIA as SHARED_MEDIA  # re-exported for the tests here


def textured_frames(
    *, seconds: float, width: int = 320, height: int = 240, fps: int = 25, seed: int = 0
) -> Iterator[NDArray[np.uint8]]:
    """Moving, textured abstract content: gratings and noise drifting sideways, no faces."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.full((height, width, 3), 128.0, np.float32)
    for _ in range(5):
        angle, period = rng.uniform(0, np.pi), rng.uniform(10, 60)
        wave_ = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        base += wave_[..., None] * rng.uniform(5, 25, 3).astype(np.float32)
    base += rng.normal(0, 8, base.shape).astype(np.float32)
    for index in range(int(seconds * fps)):
        yield np.clip(np.roll(base, 2 * index, axis=1), 0, 255).astype(np.uint8)


def write_video(
    path: Path,
    frames: Iterator[NDArray[np.uint8]],
    *,
    fps: int = 25,
    audio: NDArray[np.float32] | None = None,
) -> Path:
    """H.264 + AAC MP4; `audio` (48 kHz mono) or silence."""
    first = next(frames)
    height, width = first.shape[:2]
    count = 0
    with Mp4Writer(path, width=width, height=height, fps=fps) as writer:
        for frame in (first, *frames):
            writer.write_frame(frame)
            count += 1
        writer.write_audio(audio if audio is not None else np.zeros(48_000 * count // fps, np.float32))
    return path


def write_wav(path: Path, samples: NDArray[np.float32], rate: int = 48_000) -> Path:
    """Mono 16-bit PCM WAV."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path
