"""Footage mode ("Video Rewrite", Bregler et al. 1997): the clinician's own frames, re-timed.

The output is the clinician's enrollment footage as the idle picture, with the mouth-and-jaw
region of every frame replaced by a mouth from another enrollment frame, chosen so that its
opening matches the new speech. The choice is a shortest path over candidate frames (Viterbi):
each step pays for a mouth that opens more or less than the speech asks, and for a jump to a mouth
that does not look like the natural next frame, so runs of consecutive real frames are preferred.

The idle picture is a seeded random walk over the footage that jumps only between frames that look
alike ("video textures", `motion.IdleWalk`); a jump whose ends still differ is bridged by
motion-compensated in-betweens, so two head positions are never shown at once. The chosen mouth is
warped onto the base frame's pose and put in by gradient-domain blending inside a jaw-shaped mask
that holds the whole chin (`compose.blend_seamless`). The picture is framed so the whole head, with
headroom, stays in view, and small footage is not blown up more than `MAX_UPSCALE`. Only consented
footage of that clinician is used.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.compose import blend_seamless, mouth_mask
from avatars.engine.enrollment import (
    PATCH_LEFT,
    PATCH_TOP,
    EnrollmentAnalysis,
    analyze_enrollment,
    patch_transform,
)
from avatars.engine.errors import EnrollmentError
from avatars.engine.media import iter_video_frames
from avatars.engine.motion import (
    IdleWalk,
    Pose,
    bridge_length,
    flow_inbetweens,
    jump_costs,
    pairwise_distances,
)
from avatars.engine.specs import Progress

TARGET_CANDIDATES = 24
CONTINUATION_CANDIDATES = 8
#: How much a jump between non-consecutive mouths costs against a mismatched opening. Tuned on
#: four GRID enrollment/narration pairs: 0.5 keeps long real runs but lags the speech (change-based
#: lip-sync 0.44), 0.1 follows it closely (0.67) with more cuts; 0.15 sits between.
CONTINUITY_WEIGHT = 0.15
HOLD_COST = 0.3
JUMP_COST = 0.5
#: The fewest frames with a face a render can work from at all (the enrollment itself requires
#: `enrollment.MIN_USABLE_SECONDS`; this guards analyses made with a lower requirement).
MIN_USABLE_FRAMES = 25
#: The idle walk's frames are kept decoded at output size, up to this much memory (a 720p frame is
#: 2.6 MiB: about 190 frames, 7.7 s at 25 fps; 360p footage fits 30 s).
POOL_BYTES = 512 * 2**20
#: Footage is enlarged at most this much; beyond it the picture would only get softer, so the rest
#: of the output is filled with a blurred extension of the frame instead.
MAX_UPSCALE = 2.0
#: The head's extent in outer-eye-corner distances from the eyes' centre: crown plus headroom
#: above, chin plus some neck below, ears and hair to the sides.
HEAD_ABOVE, HEAD_BELOW, HEAD_SIDE = 1.65, 2.0, 1.3
#: Where the eyes sit in the picture, as a share of its height (a common portrait framing).
EYE_LINE = 0.42


#: Head turn or tilt (the nose's offset from between the eyes, in eye distances, after removing the
#: head's roll and scale) that a pasted mouth may differ from the head it goes on without showing;
#: each `POSE_STEP` more costs as much as a mouth opening off by the enrollment's 10-90% range.
POSE_TOLERANCE = 0.02
POSE_STEP = 0.05


def head_pose(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """(turn, tilt) per frame for 5-point landmarks (..., 5, 2): the nose's offset from between
    the eyes along and across the eye line, in eye distances. Rolling or scaling the head leaves
    it unchanged; turning it sideways or nodding moves it."""
    eyes = points[..., :4, :].mean(axis=-2)
    across = points[..., 0, :] - points[..., 2, :]
    spread = np.maximum(np.linalg.norm(across, axis=-1), 1e-6)
    unit = across / spread[..., None]
    offset = points[..., 4, :] - eyes
    turn = (offset * unit).sum(axis=-1) / spread
    tilt = (offset[..., 1] * unit[..., 0] - offset[..., 0] * unit[..., 1]) / spread
    result: NDArray[np.float64] = np.stack([turn, tilt], axis=-1)
    return result


def choose_mouths(
    analysis: EnrollmentAnalysis,
    target_open: NDArray[np.float64],
    base_points: NDArray[np.float64] | None = None,
) -> NDArray[np.int64]:
    """Enrollment frame whose mouth to show at each output frame (shortest-path search).

    `target_open` is the mouth opening per output frame in 0..1 (see `visemes.mouth_track`); it is
    mapped onto the enrollment's own range by quantile, so "half open" means this clinician's
    median opening. With `base_points` (the landmarks of the frame each mouth goes on), mouths from
    a head turned or tilted differently from that frame's cost more (a lopsided mouth otherwise).
    """
    usable = np.flatnonzero(analysis.usable)
    if len(usable) < MIN_USABLE_FRAMES:
        raise EnrollmentError(
            "The enrollment footage has too few frames with a clear face; record at least a minute."
        )
    openings = analysis.openings
    spread = float(np.subtract(*np.percentile(openings[usable], [90, 10]))) or 1.0
    wanted = np.quantile(openings[usable], np.clip(target_open, 0.0, 1.0))
    codes = analysis.appearance
    pair_scale = float(np.median(np.linalg.norm(codes[usable[1:]] - codes[usable[:-1]], axis=1))) or 1.0
    last_index = analysis.frame_count - 1
    usable_mask = analysis.usable

    poses = head_pose(analysis.landmarks)
    wanted_pose = head_pose(base_points) if base_points is not None else None

    def target_cost(t: int, frames: NDArray[np.int64]) -> NDArray[np.float64]:
        cost: NDArray[np.float64] = np.abs(openings[frames] - wanted[t]) / spread
        if wanted_pose is not None:
            mismatch = np.linalg.norm(poses[frames] - wanted_pose[t], axis=1)
            cost = cost + np.maximum(mismatch - POSE_TOLERANCE, 0.0) / POSE_STEP
        return cost

    count = len(target_open)
    chosen_sets: list[NDArray[np.int64]] = []
    back: list[NDArray[np.int64]] = []
    first = usable[np.argsort(target_cost(0, usable), kind="stable")[:TARGET_CANDIDATES]]
    accumulated = target_cost(0, first)
    chosen_sets.append(first)
    back.append(np.zeros(len(first), dtype=np.int64))
    for t in range(1, count):
        previous = chosen_sets[-1]
        best_previous = previous[np.argsort(accumulated)[:CONTINUATION_CANDIDATES]]
        continuations = np.minimum(best_previous + 1, last_index)
        continuations = continuations[usable_mask[continuations]]
        by_target = usable[
            np.argpartition(target_cost(t, usable), min(TARGET_CANDIDATES, len(usable) - 1))[
                :TARGET_CANDIDATES
            ]
        ]
        candidates = np.unique(np.concatenate([by_target, continuations]))
        natural_next = np.minimum(previous + 1, last_index)
        distance = (
            np.linalg.norm(codes[natural_next][:, None, :] - codes[candidates][None, :, :], axis=2)
            / pair_scale
        )
        transition = JUMP_COST + distance
        transition[natural_next[:, None] == candidates[None, :]] = 0.0
        transition[previous[:, None] == candidates[None, :]] = HOLD_COST
        total = accumulated[:, None] + CONTINUITY_WEIGHT * transition
        pointer = np.argmin(total, axis=0)
        accumulated = total[pointer, np.arange(len(candidates))] + target_cost(t, candidates)
        chosen_sets.append(candidates)
        back.append(pointer)
    path = np.zeros(count, dtype=np.int64)
    position = int(np.argmin(accumulated))
    for t in range(count - 1, -1, -1):
        path[t] = chosen_sets[t][position]
        position = int(back[t][position])
    return path


@dataclass(frozen=True)
class Jump:
    """A jump of the idle walk: before output frame `at` (counted from the first idle frame) the
    picture went from footage frame `source` to `target`, through `bridged` in-between frames."""

    at: int
    source: int
    target: int
    cost: float
    bridged: int


def _clamp(value: float, low: float, high: float) -> float:
    """`value` kept within [low, high]; the middle of the two where they cross."""
    return (low + high) / 2 if low > high else min(max(value, low), high)


class FootageSource:
    """Frames of footage mode for one enrollment, at the render's output size.

    Without a stored analysis the footage is analysed here with no minimum length: the product
    renders only from analyses made at enrollment, which enforce the requirement there.
    """

    def __init__(
        self,
        enrollment: Path,
        width: int,
        height: int,
        *,
        progress: Progress | None = None,
        analysis: EnrollmentAnalysis | None = None,
    ) -> None:
        self.enrollment = enrollment
        self.analysis = analysis or analyze_enrollment(enrollment, progress=progress, min_usable_seconds=0.0)
        self.width, self.height = width, height
        self._frame(width, height)
        patch_height, patch_width = self.analysis.patches.shape[1:3]
        self.mask, self.soft = mouth_mask(
            patch_width, patch_height, left=PATCH_LEFT, top=PATCH_TOP, units=self.analysis.eye_distance
        )

    def _frame(self, width: int, height: int) -> None:
        """Choose the part of the footage shown (`window`, source pixels) and its scale to the output.

        The window has the output's shape, holds the whole head with headroom in every usable frame
        (the 2nd-98th percentile of its positions), is as large as the footage allows, and not so
        small that the footage is enlarged more than `MAX_UPSCALE`; where it reaches past the
        footage's edge the output shows a blurred extension of the frame.
        """
        analysis = self.analysis
        usable = analysis.landmarks[analysis.usable] if analysis.usable.any() else analysis.landmarks
        eyes = usable[:, :4].mean(axis=1)
        spread = float(np.median(np.linalg.norm(usable[:, 0] - usable[:, 2], axis=1)))
        top = float(np.percentile(eyes[:, 1], 2)) - HEAD_ABOVE * spread
        bottom = float(np.percentile(eyes[:, 1], 98)) + HEAD_BELOW * spread
        left = float(np.percentile(eyes[:, 0], 2)) - HEAD_SIDE * spread
        right = float(np.percentile(eyes[:, 0], 98)) + HEAD_SIDE * spread
        aspect = width / height
        fits = min(analysis.height, analysis.width / aspect)
        window_height = max(bottom - top, (right - left) / aspect, fits, height / MAX_UPSCALE)
        window_width = window_height * aspect
        centre_x, eye_y = float(np.median(eyes[:, 0])), float(np.median(eyes[:, 1]))
        x0 = _clamp(centre_x - window_width / 2, right - window_width, left)
        y0 = _clamp(eye_y - EYE_LINE * window_height, bottom - window_height, top)
        # Show footage rather than fill wherever the footage is large enough to.
        x0 = _clamp(x0, min(0.0, analysis.width - window_width), max(0.0, analysis.width - window_width))
        y0 = _clamp(y0, min(0.0, analysis.height - window_height), max(0.0, analysis.height - window_height))
        self.window = (x0, y0, window_width, window_height)
        self.scale = height / window_height
        self.padded = (
            x0 < -0.5 or y0 < -0.5 or x0 + window_width > analysis.width + 0.5
            or y0 + window_height > analysis.height + 0.5
        )  # fmt: skip

    def to_output(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """Footage pixel coordinates (..., 2) in output pixels."""
        x0, y0 = self.window[:2]
        result: NDArray[np.float64] = (points - [x0, y0]) * self.scale
        return result

    def _to_output(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        import cv2

        x0, y0, window_width, window_height = self.window
        scale = self.scale
        source_height, source_width = frame.shape[:2]
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        if not self.padded:
            left, top = max(0, int(round(x0))), max(0, int(round(y0)))
            right = min(source_width, int(round(x0 + window_width)))
            bottom = min(source_height, int(round(y0 + window_height)))
            whole = cv2.resize(
                frame[top:bottom, left:right], (self.width, self.height), interpolation=interpolation
            )
            return np.ascontiguousarray(whole, dtype=np.uint8)
        # The part of the window the footage covers, in footage pixels and in output pixels.
        left, top = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        right = min(source_width, int(np.ceil(x0 + window_width)))
        bottom = min(source_height, int(np.ceil(y0 + window_height)))
        out_left = max(0, int(round((left - x0) * scale)))
        out_top = max(0, int(round((top - y0) * scale)))
        out_right = max(out_left + 1, min(self.width, int(round((right - x0) * scale))))
        out_bottom = max(out_top + 1, min(self.height, int(round((bottom - y0) * scale))))
        content = cv2.resize(
            frame[top:bottom, left:right],
            (out_right - out_left, out_bottom - out_top),
            interpolation=interpolation,
        )
        # The fill: the frame stretched over the whole output, blurred at 1/16 size and dimmed.
        small = cv2.resize(
            frame, (max(1, self.width // 16), max(1, self.height // 16)), interpolation=cv2.INTER_AREA
        )
        small = (cv2.GaussianBlur(small, (0, 0), 1.5).astype(np.uint16) * 3 // 4).astype(np.uint8)
        picture = np.asarray(
            cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        )
        picture[out_top:out_bottom, out_left:out_right] = content
        return picture

    def _pool(self) -> tuple[int, list[NDArray[np.uint8]]]:
        """(first frame, pictures at output size) of the stretch of footage the idle walk uses.

        The stretch is as long as `POOL_BYTES` allows, placed where most frames show a face.
        """
        analysis = self.analysis
        count = max(2, min(analysis.frame_count, POOL_BYTES // (self.width * self.height * 3)))
        usable = analysis.usable.astype(np.int64)
        sums = np.convolve(usable, np.ones(count, dtype=np.int64), mode="valid")
        start = int(np.argmax(sums)) if len(sums) else 0
        pictures: list[NDArray[np.uint8]] = []
        for index, frame in enumerate(iter_video_frames(self.enrollment)):
            if index < start:
                continue
            if index >= start + count or index >= analysis.frame_count:
                break
            pictures.append(self._to_output(frame))
        if not pictures:
            raise EnrollmentError("The enrollment footage could not be read again; upload it again.")
        return start, pictures

    def _features(
        self, pictures: list[NDArray[np.uint8]], points: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Per frame: the head region as a small grey picture, and the landmarks, equally weighted.

        Each part is divided by its median change between consecutive frames, so a change of one
        "typical step" in pose counts as much as one in appearance.
        """
        import cv2

        eyes = points[:, :4].mean(axis=1)
        spread = float(np.median(np.linalg.norm(points[:, 0] - points[:, 2], axis=1))) or 1.0
        centre = np.median(eyes, axis=0)
        half = 1.4 * spread
        left, top = int(max(0, centre[0] - half)), int(max(0, centre[1] - 0.9 * half))
        right = int(min(self.width, centre[0] + half))
        bottom = int(min(self.height, centre[1] + 1.1 * half))
        thumbs = np.stack(
            [
                cv2.resize(
                    cv2.cvtColor(picture[top:bottom, left:right], cv2.COLOR_RGB2GRAY), (32, 32),
                    interpolation=cv2.INTER_AREA,
                ).reshape(-1)
                for picture in pictures
            ]
        ).astype(np.float64)  # fmt: skip
        shapes = (points - eyes.mean(axis=0)).reshape(len(points), -1) / spread
        parts = []
        for part in (thumbs, shapes):
            step = float(np.median(np.linalg.norm(np.diff(part, axis=0), axis=1))) if len(part) > 1 else 1.0
            parts.append(part / (step or 1.0))
        features: NDArray[np.float64] = np.hstack(parts) / np.sqrt(2.0)
        return features

    def _plan(self, seed: int, count: int) -> list[tuple[int, int, int]]:
        """The idle picture for `count` output frames: (pool frame before, pool frame after, step
        into the bridge between them; 0 for a plain footage frame)."""
        costs = jump_costs(pairwise_distances(self._features(self._pictures, self._points)))
        self.walk = IdleWalk(costs, seed=seed, fps=self.analysis.fps)
        self.jumps: list[Jump] = []
        plan: list[tuple[int, int, int]] = []
        for step in self.walk.steps():
            if len(plan) >= count:
                break
            if step.jumped_from is not None:
                cost = float(costs[step.jumped_from, step.frame])
                bridged = bridge_length(cost)
                self.jumps.append(
                    Jump(len(plan), self._start + step.jumped_from, self._start + step.frame, cost, bridged)
                )
                plan.extend((step.jumped_from, step.frame, number) for number in range(1, bridged + 1))
            plan.append((step.frame, step.frame, 0))
        return plan[:count]

    def _base_frames(
        self, plan: list[tuple[int, int, int]]
    ) -> Iterator[tuple[NDArray[np.uint8], NDArray[np.float64]]]:
        """The planned pictures (in-betweens made when first needed) with landmarks in output pixels."""
        bridge: list[NDArray[np.uint8]] = []
        for (before, after, number), (_, _, t) in zip(plan, self._fractions(plan), strict=True):
            if not number:
                # A copy: the mouth is pasted into the yielded picture in place.
                yield self._pictures[before].copy(), self._points[before]
                continue
            if number == 1:
                count = int(round(1 / t)) - 1
                bridge = flow_inbetweens(self._pictures[before], self._pictures[after], count)
            yield bridge[number - 1].copy(), (1 - t) * self._points[before] + t * self._points[after]

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]:
        """Frames for the per-frame mouth shapes; the footage's own head motion replaces `poses`.

        The idle walk is seeded from the mouth track and the render's poses (its seed), so a re-run of
        the same render gives the same frames while different renders take different paths; the
        jumps it takes are in `jumps`. Each mouth is chosen knowing the head it goes on.
        """
        self._start, self._pictures = self._pool()
        self._points = self.to_output(
            self.analysis.landmarks[self._start : self._start + len(self._pictures)]
        )
        # The poses come from the render's own seed (`RenderSpec.seed`), the mouths from its speech.
        motion = np.array([(pose.dx, pose.dy, pose.angle) for pose in poses[:16]], dtype=np.float64)
        seed = zlib.crc32(np.ascontiguousarray(mouths, dtype=np.float64).tobytes() + motion.tobytes())
        plan = self._plan(seed, len(mouths))
        base_points = np.stack(
            [(1 - t) * self._points[a] + t * self._points[b] for a, b, t in self._fractions(plan)]
        )
        # Head pose is measured relative to the eyes, so output pixels serve as well as footage pixels.
        path = choose_mouths(self.analysis, mouths[:, 0], base_points)
        for source, (picture, points) in zip(path, self._base_frames(plan), strict=True):
            self._paste_mouth(picture, points, int(source))
            yield picture

    @staticmethod
    def _fractions(plan: list[tuple[int, int, int]]) -> list[tuple[int, int, float]]:
        lengths: dict[tuple[int, int], int] = {}
        for before, after, number in plan:
            lengths[(before, after)] = max(lengths.get((before, after), 0), number)
        return [(a, b, n / (lengths[(a, b)] + 1) if n else 0.0) for a, b, n in plan]

    def _paste_mouth(self, picture: NDArray[np.uint8], points: NDArray[np.float64], source: int) -> None:
        import cv2

        patch = self.analysis.patches[source]
        patch_height, patch_width = patch.shape[:2]
        to_patch = patch_transform(points, self.analysis.eye_distance)
        to_frame = np.linalg.inv(np.vstack([to_patch, [0, 0, 1]]))[:2]
        corners = np.array(
            [[0, 0, 1], [patch_width, 0, 1], [0, patch_height, 1], [patch_width, patch_height, 1]],
            dtype=np.float64,
        )
        mapped = corners @ to_frame.T
        left, top = np.floor(mapped.min(axis=0)).astype(int)
        right, bottom = np.ceil(mapped.max(axis=0)).astype(int)
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, self.width), min(bottom, self.height)
        if right - left < 8 or bottom - top < 8:
            return
        shifted = to_frame.copy()
        shifted[:, 2] -= [left, top]
        size = (int(right - left), int(bottom - top))
        warped = cv2.warpAffine(patch, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        binary = cv2.warpAffine(self.mask, shifted, size, flags=cv2.INTER_NEAREST, borderValue=0)
        soft = cv2.warpAffine(self.soft, shifted, size, flags=cv2.INTER_LINEAR, borderValue=0)
        blend_seamless(
            picture[top:bottom, left:right],
            np.asarray(warped, dtype=np.uint8),
            np.asarray(binary, dtype=np.uint8),
            np.asarray(soft, dtype=np.float32),
        )
