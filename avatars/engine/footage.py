"""Footage mode ("Video Rewrite", Bregler et al. 1997): the clinician's own frames, re-timed.

The output is the clinician's enrollment footage playing as an idle loop, with the mouth-and-jaw
region of every frame replaced by a mouth from another enrollment frame, chosen so that its
opening matches the new speech. The choice is a shortest path over candidate frames (Viterbi):
each step pays for a mouth that opens more or less than the speech asks, and for a jump to a mouth
that does not look like the natural next frame, so runs of consecutive real frames are preferred.
The chosen mouth is warped onto the base frame's pose and blended with a feathered mask after its
colour is matched at the seam. Only consented footage of that clinician is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.enrollment import EnrollmentAnalysis, analyze_enrollment, patch_transform
from avatars.engine.errors import EnrollmentError
from avatars.engine.media import iter_video_frames
from avatars.engine.motion import Pose
from avatars.engine.specs import Progress

TARGET_CANDIDATES = 24
CONTINUATION_CANDIDATES = 8
#: How much a jump between non-consecutive mouths costs against a mismatched opening. Tuned on
#: four GRID enrollment/narration pairs: 0.5 keeps long real runs but lags the speech (change-based
#: lip-sync 0.44), 0.1 follows it closely (0.67) with more cuts; 0.15 sits between.
CONTINUITY_WEIGHT = 0.15
HOLD_COST = 0.3
JUMP_COST = 0.5
MIN_USABLE_FRAMES = 25
#: Idle loops up to this size are kept decoded at output size (a 720p frame is 2.6 MiB, so about
#: four seconds); longer loops are decoded again on each pass.
LOOP_CACHE_BYTES = 256 * 2**20


def choose_mouths(analysis: EnrollmentAnalysis, target_open: NDArray[np.float64]) -> NDArray[np.int64]:
    """Enrollment frame whose mouth to show at each output frame (shortest-path search).

    `target_open` is the mouth opening per output frame in 0..1 (see `visemes.mouth_track`); it is
    mapped onto the enrollment's own range by quantile, so "half open" means this clinician's
    median opening.
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

    def target_cost(t: int, frames: NDArray[np.int64]) -> NDArray[np.float64]:
        cost: NDArray[np.float64] = np.abs(openings[frames] - wanted[t]) / spread
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


def _feather_mask(width: int, height: int) -> NDArray[np.float32]:
    import cv2

    mask = np.zeros((height, width), dtype=np.float32)
    centre = (int(round(width * 0.5)), int(round(height * 0.46)))
    axes = (int(round(width * 0.36)), int(round(height * 0.36)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    sigma = max(1.0, 0.07 * width)
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), dtype=np.float32)


class FootageSource:
    """Frames of footage mode for one enrollment, at the render's output size."""

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
        self.analysis = analysis or analyze_enrollment(enrollment, progress=progress)
        self.width, self.height = width, height
        # Cover the output: scale until both sides fill it, then crop around the face.
        self.scale = max(width / self.analysis.width, height / self.analysis.height)
        # The crop follows the face, not the picture's centre: eyes at about 40% of the height and
        # the face centred across, so a wide output cut from taller footage keeps mouth and chin.
        usable = self.analysis.landmarks[self.analysis.usable]
        eyes = usable[:, :4].reshape(-1, 2).mean(axis=0) * self.scale
        spare_x = self.analysis.width * self.scale - width
        spare_y = self.analysis.height * self.scale - height
        self.crop_x = int(round(np.clip(eyes[0] - width / 2, 0, spare_x)))
        self.crop_y = int(round(np.clip(eyes[1] - 0.4 * height, 0, spare_y)))
        patch_height, patch_width = self.analysis.patches.shape[1:3]
        self.mask = _feather_mask(patch_width, patch_height)
        self.fade = max(1, min(6, self.analysis.loop_end // 4))

    def _to_output(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        import cv2

        if self.scale != 1.0:
            size = (
                int(round(self.analysis.width * self.scale)),
                int(round(self.analysis.height * self.scale)),
            )
            interpolation = cv2.INTER_LINEAR if self.scale > 1 else cv2.INTER_AREA
            frame = np.asarray(cv2.resize(frame, size, interpolation=interpolation), dtype=np.uint8)
        return np.ascontiguousarray(
            frame[self.crop_y : self.crop_y + self.height, self.crop_x : self.crop_x + self.width]
        )

    def _loop_pictures(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """(index, picture at output size) of the loop's frames, pass after pass, forever.

        A loop that fits in `LOOP_CACHE_BYTES` is decoded and scaled once and then replayed from
        memory; a longer one is decoded again on every pass, so memory stays bounded either way.
        """
        end = self.analysis.loop_end
        cache: list[NDArray[np.uint8]] | None = (
            [] if end * self.width * self.height * 3 <= LOOP_CACHE_BYTES else None
        )
        while True:
            if cache is not None and len(cache) == end:
                for index, picture in enumerate(cache):
                    # A copy: the mouth is pasted into the yielded picture in place.
                    yield index, picture.copy()
                continue
            for index, frame in enumerate(iter_video_frames(self.enrollment)):
                if index >= end:
                    break
                picture = self._to_output(frame)
                if cache is not None:
                    cache.append(picture.copy())
                yield index, picture

    def _base_frames(self) -> Iterator[tuple[NDArray[np.uint8], NDArray[np.float64]]]:
        """The idle loop: frames with their landmarks (output pixels), cross-faded at the seam."""
        import cv2

        end, fade = self.analysis.loop_end, self.fade
        landmarks = self.analysis.landmarks * self.scale - [self.crop_x, self.crop_y]
        head: list[NDArray[np.uint8]] = []
        first_pass = True
        for index, picture in self._loop_pictures():
            if index == 0 and head:
                first_pass = False
            if len(head) < fade:
                head.append(picture.copy())
            # After the first pass the head frames were already shown, blended into the seam.
            if not first_pass and index < fade:
                continue
            points = landmarks[index]
            into_fade = index - (end - fade)
            if into_fade >= 0:
                weight = (into_fade + 1) / (fade + 1)
                picture = np.asarray(
                    cv2.addWeighted(picture, 1 - weight, head[into_fade], weight, 0), dtype=np.uint8
                )
                points = (1 - weight) * points + weight * landmarks[into_fade]
            yield picture, points

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]:
        """Frames for the per-frame mouth shapes; the footage's own head motion replaces `poses`."""
        path = choose_mouths(self.analysis, mouths[:, 0])
        base = self._base_frames()
        for source in path:
            picture, points = next(base)
            self._paste_mouth(picture, points, int(source))
            yield picture

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
        if right - left < 4 or bottom - top < 4:
            return
        shifted = to_frame.copy()
        shifted[:, 2] -= [left, top]
        size = (int(right - left), int(bottom - top))
        warped = cv2.warpAffine(patch, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.warpAffine(self.mask, shifted, size, flags=cv2.INTER_LINEAR, borderValue=0)
        region = picture[top:bottom, left:right]
        # Match colour where the patch fades into the face, so lighting changes between the two
        # frames leave no visible step at the seam.
        ring = (alpha > 0.05) & (alpha < 0.6)
        if ring.sum() > 8:
            shift = region[ring].mean(axis=0) - warped[ring].mean(axis=0)
            warped = np.clip(warped + np.round(shift).astype(np.int16), 0, 255).astype(np.uint8)
        # OpenCV's weighted blend works on the 8-bit pixels directly (no float copies of the region).
        region[...] = cv2.blendLinear(warped, region, alpha, np.float32(1.0) - alpha)
