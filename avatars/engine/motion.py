"""Natural idle motion shared by the drawn and warped avatars: blinks and small head movement.

Deterministic for a given seed, so a re-run of the same render (after a worker restart) produces
the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Pose:
    """Head pose offsets for one frame: `dx`, `dy` in face units, `angle` in degrees, `blink` 0..1."""

    dx: float
    dy: float
    angle: float
    blink: float


def idle_motion(
    frame_count: int, fps: float, *, seed: int = 7, loudness: NDArray[np.float64] | None = None
) -> list[Pose]:
    """Poses for `frame_count` frames: blinks every 2-6 s and a slow sway of about 1-2 degrees.

    When `loudness` is given the head also nods slightly with stressed syllables, as people do
    when they talk.
    """
    rng = np.random.default_rng(seed)
    time = np.arange(frame_count) / fps
    blink = np.zeros(frame_count)
    moment = float(rng.uniform(0.8, 2.5))
    end = float(time[-1]) + 1.0 if frame_count else 0.0
    while moment < end:
        length = float(rng.uniform(0.12, 0.22))
        phase = (time - moment) / length
        inside = (phase >= 0) & (phase <= 1)
        # Lids close faster than they open: a skewed bump peaking at a third of the blink.
        bump = np.where(phase < 0.35, phase / 0.35, (1 - phase) / 0.65)
        blink = np.maximum(blink, np.where(inside, np.clip(bump, 0, 1), 0))
        moment += float(rng.uniform(2.0, 6.0))
    phases = rng.uniform(0, 2 * np.pi, size=5)
    dx = 0.012 * np.sin(2 * np.pi * 0.11 * time + phases[0]) + 0.006 * np.sin(
        2 * np.pi * 0.23 * time + phases[1]
    )
    dy = 0.008 * np.sin(2 * np.pi * 0.17 * time + phases[2])
    angle = 1.2 * np.sin(2 * np.pi * 0.09 * time + phases[3]) + 0.5 * np.sin(
        2 * np.pi * 0.31 * time + phases[4]
    )
    if loudness is not None and len(loudness) == frame_count:
        kernel = np.ones(7) / 7
        dy = dy + 0.01 * np.convolve(loudness, kernel, mode="same")
    return [Pose(float(dx[i]), float(dy[i]), float(angle[i]), float(blink[i])) for i in range(frame_count)]
