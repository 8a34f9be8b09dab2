"""Tiny generated media for the provenance engine tests (textured and moving, never flat colour)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from core.media.mp4 import Mp4Writer
from tests.media_location import SHARED_MEDIA as SHARED_MEDIA  # re-exported for the tests here


def textured_frames(
    *, seconds: float, width: int = 320, height: int = 240, fps: int = 25, seed: int = 0
) -> Iterator[NDArray[np.uint8]]:
    """Moving, textured synthetic content (smooth gradients, blobs and fine noise), never flat colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # A seed-specific scene: random oriented gratings and a smooth random field for the large
    # shapes, fine noise for texture, and a moving bright blob for motion.
    base = np.zeros((height, width, 3), np.float32)
    for _ in range(6):
        angle, period = rng.uniform(0, np.pi), rng.uniform(12, 80)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period + rng.uniform(0, 6.3))
        base += wave[..., None] * rng.uniform(5, 25, 3).astype(np.float32)
    coarse = rng.uniform(-60, 60, (6, 8, 3)).astype(np.float32)
    base += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    base += 128 + rng.normal(0, 10, (height, width, 3)).astype(np.float32)
    speed, phase = rng.uniform(0.03, 0.08), rng.uniform(0, 6.3)
    for i in range(int(seconds * fps)):
        cx = width * (0.5 + 0.3 * np.sin(i * speed + phase))
        cy = height * (0.5 + 0.25 * np.cos(i * speed * 1.3 + phase))
        blob = 70 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (width / 8) ** 2))
        frame = np.roll(base, i, axis=1) + blob[..., None] * np.array([1.0, 0.6, 0.3], np.float32)
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
