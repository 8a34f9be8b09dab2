"""Tiny generated media for the provenance engine tests (textured and moving, never flat colour)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media.mp4 import Mp4Writer

SHARED_MEDIA = Path(__file__).resolve().parents[3].parent / "shared" / "media"


def textured_frames(
    *, seconds: float, width: int = 320, height: int = 240, fps: int = 25, seed: int = 0
) -> Iterator[NDArray[np.uint8]]:
    """Moving, textured synthetic content (smooth gradients, blobs and fine noise), never flat colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            128
            + 60 * np.sin(xx / (17 + 5 * seed % 7) + c) * np.cos(yy / (23 + 3 * c))
            + 30 * np.sin((xx + yy) / 41)
            for c in range(3)
        ],
        axis=-1,
    )
    noise = rng.normal(0, 12, (height, width, 3)).astype(np.float32)
    for i in range(int(seconds * fps)):
        cx = width * (0.5 + 0.3 * np.sin(i / 20 + seed))
        cy = height * (0.5 + 0.25 * np.cos(i / 27 + seed))
        blob = 70 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (width / 8) ** 2))
        frame = np.roll(base, i * 2, axis=1) + blob[..., None] * np.array([1.0, 0.6, 0.3]) + noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


def write_mp4(path: Path, frames: Iterator[NDArray[np.uint8]], *, fps: int = 25, crf: int = 18) -> Path:
    """Encode frames to an H.264 MP4 with a silent audio track."""
    first = next(frames)
    height, width = first.shape[:2]
    with Mp4Writer(path, width=width, height=height, fps=fps, crf=crf) as writer:
        for frame in (first, *frames):
            writer.write_frame(frame)
            writer.write_audio(np.zeros(48_000 // fps, np.float32))
    return path
