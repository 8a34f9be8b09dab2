"""Natural idle motion shared by the drawn and warped avatars: blinks and small head movement.

Deterministic for a given seed, so a re-run of the same render (after a worker restart) produces
the same frames.
"""

from __future__ import annotations

from collections.abc import Iterator
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


# --- Idle motion from recorded footage ("video textures", Schödl et al. 2000) -------------------
#
# Footage mode plays the clinician's own frames as the idle picture. Instead of a fixed loop whose
# end is cross-faded into its start (which shows two head positions at once), the frames are walked
# through: mostly forwards, jumping only between frames that look alike (same pose, same light), at
# random moments chosen per render. A jump whose two ends still differ more than one ordinary
# frame step is bridged by motion-compensated in-betweens (both ends warped along the optical flow
# towards each other), never by blending two unaligned pictures.

#: A jump costs this many "typical steps" (the median change between consecutive enrollment frames)
#: at most to be taken at random; the one jump that returns from the end is taken whatever it costs.
GOOD_JUMP_COST = 1.6
#: In-betweens are added until each bridged step changes the picture by at most this many typical steps.
BRIDGE_STEP = 1.0
MAX_BRIDGE_FRAMES = 8


def pairwise_distances(features: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distance between every pair of rows of `features` (frames x dimensions)."""
    squares = np.einsum("ij,ij->i", features, features)
    gram = features @ features.T
    result: NDArray[np.float64] = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * gram, 0.0))
    return result


def jump_costs(distances: NDArray[np.float64]) -> NDArray[np.float64]:
    """`cost[i, j]`: how visible showing frame j right after frame i is, in typical steps.

    Showing j after i looks natural when j resembles i + 1; the neighbours (i, j - 1) and
    (i + 2, j + 1) count too, so the motion's speed and direction match as well as the pose. One
    typical step is the median distance between consecutive frames. The last frame has no
    successor: its row is infinite.
    """
    count = len(distances)
    cost = np.full((count, count), np.inf)
    if count < 2:
        return cost
    step = float(np.median(distances[np.arange(count - 1), np.arange(1, count)])) or 1.0
    total = np.zeros((count - 1, count))
    weight = np.zeros((count - 1, count))
    for offset, factor in ((-1, 0.5), (0, 1.0), (1, 0.5)):
        # Compare frame (i + 1 + offset) with frame (j + offset) wherever both exist.
        rows = np.arange(count - 1) + 1 + offset
        cols = np.arange(count) + offset
        valid_rows = (rows >= 0) & (rows < count)
        valid_cols = (cols >= 0) & (cols < count)
        block = np.zeros((count - 1, count))
        block[np.ix_(valid_rows, valid_cols)] = distances[np.ix_(rows[valid_rows], cols[valid_cols])]
        total += factor * block
        weight += factor * (valid_rows[:, None] & valid_cols[None, :])
    cost[:-1] = total / np.maximum(weight, 1e-9) / step
    return cost


@dataclass(frozen=True)
class IdleStep:
    """One frame of the idle walk: the footage frame to show, and whether a jump led to it."""

    frame: int
    jumped_from: int | None


class IdleWalk:
    """A seeded random walk over footage frames that only jumps where the jump is hard to see.

    `costs` comes from `jump_costs`. Jumps shorter than `min_jump` frames are not jumps (they would
    look like a stutter). The walk never passes `ret_from`: there it returns to `ret_to`, the
    cheapest jump from the last third of the frames back into the first third, so it runs forever.
    """

    def __init__(
        self,
        costs: NDArray[np.float64],
        *,
        seed: int,
        fps: float,
        min_jump: int | None = None,
        mean_run_seconds: float = 2.5,
        min_run_seconds: float = 1.0,
    ) -> None:
        count = len(costs)
        self.count = count
        self.rng = np.random.default_rng(seed)
        self.min_jump = min_jump if min_jump is not None else max(2, int(round(0.4 * fps)))
        self.min_run = max(1, int(round(min_run_seconds * fps)))
        self.hazard = 1.0 / max(1.0, mean_run_seconds * fps - self.min_run)
        if count < 2 * self.min_jump + 2:
            # Too few frames to jump anywhere: play forwards and return to the start.
            self.ret_from, self.ret_to = count - 1, 0
            self.good: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)] * count
            self.good_cost: list[NDArray[np.float64]] = [np.zeros(0)] * count
            return
        index = np.arange(count)
        allowed = np.abs(index[None, :] - (index[:, None] + 1)) >= self.min_jump
        # The return leaves from the last third and lands in the first third, so every pass
        # shows at least a third of the footage before it comes round again.
        third = max(count // 3, self.min_jump + 1)
        back = np.where(allowed, costs, np.inf)
        back[: count - third] = np.inf
        back[:, third:] = np.inf
        ret_from, ret_to = np.unravel_index(int(np.argmin(back)), back.shape)
        self.ret_from, self.ret_to = int(ret_from), int(ret_to)
        # Random jumps stay inside [0, ret_from], so every path reaches the return jump.
        allowed &= index[None, :] <= self.ret_from
        self.good = []
        self.good_cost = []
        for row in range(count):
            targets = np.flatnonzero(allowed[row] & (costs[row] <= GOOD_JUMP_COST))
            self.good.append(targets)
            self.good_cost.append(costs[row, targets])

    def steps(self, start: int = 0) -> Iterator[IdleStep]:
        """Frames to show, forever."""
        frame, run, jumped_from = start, 0, None
        while True:
            yield IdleStep(frame, jumped_from)
            jumped_from = None
            run += 1
            if frame >= self.ret_from:
                jumped_from, frame, run = frame, self.ret_to, 0
                continue
            targets = self.good[frame]
            if run >= self.min_run and len(targets) and self.rng.random() < self.hazard:
                # Cheaper jumps are likelier; any good one may be taken, so paths vary between renders.
                weights = np.exp(-2.0 * self.good_cost[frame])
                choice = int(self.rng.choice(len(targets), p=weights / weights.sum()))
                jumped_from, frame, run = frame, int(targets[choice]), 0
                continue
            frame += 1


def bridge_length(cost: float) -> int:
    """In-between frames for a jump of this cost, so no bridged step exceeds `BRIDGE_STEP`."""
    if not np.isfinite(cost) or cost <= BRIDGE_STEP:
        return 0
    return int(min(MAX_BRIDGE_FRAMES, np.ceil(cost / BRIDGE_STEP) - 1))


def flow_inbetweens(
    first: NDArray[np.uint8], second: NDArray[np.uint8], count: int, *, flow_width: int = 320
) -> list[NDArray[np.uint8]]:
    """`count` motion-compensated in-between pictures from `first` to `second` (RGB, same size).

    Dense optical flow (OpenCV's DIS) is found both ways on downscaled grey pictures; each
    in-between warps both ends to the intermediate time (the linear-motion approximation of
    Jiang et al., "Super SloMo", 2018) and mixes the two aligned pictures, so features move rather
    than fade in and out.
    """
    import cv2

    if count <= 0:
        return []
    height, width = first.shape[:2]
    scale = min(1.0, flow_width / width)
    small = (max(8, int(round(width * scale))), max(8, int(round(height * scale))))

    def grey(picture: NDArray[np.uint8]) -> NDArray[np.uint8]:
        resized = cv2.resize(picture, small, interpolation=cv2.INTER_AREA) if scale < 1 else picture
        return np.asarray(cv2.cvtColor(resized, cv2.COLOR_RGB2GRAY), dtype=np.uint8)

    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a, b = grey(first), grey(second)
    empty = np.zeros((*a.shape, 2), dtype=np.float32)
    forward = np.asarray(dis.calc(a, b, empty.copy()), dtype=np.float32)
    backward = np.asarray(dis.calc(b, a, empty.copy()), dtype=np.float32)
    if scale < 1:
        forward = cv2.resize(forward, (width, height), interpolation=cv2.INTER_LINEAR) / scale
        backward = cv2.resize(backward, (width, height), interpolation=cv2.INTER_LINEAR) / scale
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    pictures: list[NDArray[np.uint8]] = []
    for step in range(1, count + 1):
        t = step / (count + 1)
        to_first = -(1 - t) * t * forward + t * t * backward
        to_second = (1 - t) ** 2 * forward - t * (1 - t) * backward
        warped_first = cv2.remap(
            first, grid_x + to_first[..., 0], grid_y + to_first[..., 1], cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        warped_second = cv2.remap(
            second, grid_x + to_second[..., 0], grid_y + to_second[..., 1], cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        pictures.append(np.asarray(cv2.addWeighted(warped_first, 1 - t, warped_second, t, 0), dtype=np.uint8))
    return pictures
