"""BlazeFace face detection (MediaPipe's short- and full-range models) with our own anchor decoding.

Both SSD models predict, for every anchor, a box centre offset, a box size and six keypoints (eyes,
nose tip, mouth, ear tragions) in input pixels, plus one logit. Anchors are the centres of the
feature-map cells with a fixed unit size, so decoding is `anchor + raw / input_size`.

The full-range model (192 px input) finds small and distant faces; the short-range one (128 px)
is the better model for close-ups. Small faces in wide shots are looked for in overlapping square
tiles, which a caller may run less often than the whole-frame pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.models import FULL_RANGE, SHORT_RANGE, load

#: Keypoint order of both models (the person's right eye is on the image's left).
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

#: Logit clipping and score threshold: below 0.5 MediaPipe's own graphs drop a detection; we keep
#: slightly weaker ones because a missed face costs privacy while a false one costs a patch of
#: background (and the mesh confirms every new track before it is drawn).
SCORE_THRESHOLD = 0.45
#: Boxes overlapping more than this are one face; their coordinates are score-weighted averages.
NMS_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) and the six keypoints (6x2) in frame pixels, and its score."""

    box: tuple[float, float, float, float]
    keypoints: NDArray[np.float64]
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def center(self) -> NDArray[np.float64]:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


@cache
def _anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> NDArray[np.float32]:
    """Anchor centres (N x 2, normalised) in the model's output order: row, column, anchor."""
    centres: list[NDArray[np.float64]] = []
    for stride, count in zip(strides, per_cell, strict=True):
        cells = size // stride
        grid = (np.arange(cells) + 0.5) / cells
        xs, ys = np.meshgrid(grid, grid)
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, count, axis=0))
    return np.concatenate(centres).astype(np.float32)


#: Anchor layouts: the short-range model merges its three stride-16 layers (2 anchors each) into
#: 6 anchors per 8x8 cell after 2 per 16x16 cell; the full-range model has one anchor per 48x48 cell.
_LAYOUTS = {SHORT_RANGE: ((8, 16), (2, 6)), FULL_RANGE: ((4,), (1,))}


def _decode(name: str, square: NDArray[np.uint8]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Run a detector on a square RGB image of its input size: (scores, raw N x 16 normalised)."""
    model = load(name)
    size = model.size
    tensor = square.astype(np.float32) * (1 / 127.5) - 1.0
    first, second = model.run(tensor)
    # Output order differs between the two models' graphs: tell regressors from scores by width.
    raw, logits = (first, second) if first.shape[-1] == 16 else (second, first)
    raw = np.asarray(raw.reshape(-1, 16) / size, dtype=np.float32)
    scores = np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -80, 80))), dtype=np.float32)
    keep = scores >= SCORE_THRESHOLD
    if not keep.any():
        return scores[:0], raw[:0]
    strides, per_cell = _LAYOUTS[name]
    anchors = _anchors(size, strides, per_cell)[keep]
    raw = raw[keep]
    raw[:, 0:2] += anchors
    raw[:, 4:16] += np.tile(anchors, 6)
    return scores[keep], raw


def _detect_square(
    name: str, image: NDArray[np.uint8], origin: tuple[float, float], scale: float
) -> list[tuple[float, NDArray[np.float64]]]:
    """Detections in `image` (any size, letterboxed into the model's square) in frame pixels.

    `origin` and `scale` map the image's pixels to the frame: frame = origin + pixel * scale.
    Returns (score, 16 values: cx, cy, w, h, 6 keypoints) pairs.
    """
    size = load(name).size
    height, width = image.shape[:2]
    side = max(height, width)
    fit = size / side
    resized = cv2.resize(
        image, (max(1, round(width * fit)), max(1, round(height * fit))), interpolation=cv2.INTER_AREA
    )
    square = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    square[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    scores, raw = _decode(name, square)
    found: list[tuple[float, NDArray[np.float64]]] = []
    for score, values in zip(scores, raw, strict=True):
        # Normalised square coordinates -> resized-image pixels -> image pixels -> frame pixels.
        pixels = values.astype(np.float64) * size
        pixels[0::2] -= left
        pixels[1::2] -= top
        pixels[2:4] += [left, top]  # width and height are sizes, not positions
        pixels /= fit
        pixels *= scale
        pixels[0::2] += origin[0]
        pixels[1::2] += origin[1]
        pixels[2:4] -= origin
        found.append((float(score), pixels))
    return found


def _iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of one box against many, boxes as (x0, y0, x1, y1)."""
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    result: NDArray[np.float64] = inter / np.maximum(area, 1e-9)
    return result


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    return float(_iou(np.asarray(a, dtype=np.float64), np.asarray([b], dtype=np.float64))[0])


def _merge(candidates: list[tuple[float, NDArray[np.float64]]]) -> list[Detection]:
    """Weighted non-maximum suppression: overlapping boxes average, weighted by score."""
    if not candidates:
        return []
    scores = np.array([score for score, _ in candidates])
    values = np.stack([v for _, v in candidates])
    boxes = np.stack(
        [
            values[:, 0] - values[:, 2] / 2,
            values[:, 1] - values[:, 3] / 2,
            values[:, 0] + values[:, 2] / 2,
            values[:, 1] + values[:, 3] / 2,
        ],
        axis=1,
    )
    order = np.argsort(-scores)
    remaining = np.ones(len(order), dtype=bool)
    detections: list[Detection] = []
    for position, index in enumerate(order):
        if not remaining[position]:
            continue
        overlap = _iou(boxes[index], boxes[order]) > NMS_IOU
        group = order[overlap & remaining]
        remaining &= ~overlap
        weights = scores[group] / scores[group].sum()
        box = (boxes[group] * weights[:, None]).sum(axis=0)
        keypoints = (values[group, 4:] * weights[:, None]).sum(axis=0).reshape(6, 2)
        detections.append(
            Detection(box=(box[0], box[1], box[2], box[3]), keypoints=keypoints, score=float(scores[index]))
        )
    return detections


class FaceDetector:
    """Finds faces in RGB frames with both BlazeFace models.

    It takes a half-resolution copy of the frame (the tracker keeps one anyway), so the models'
    inputs are cheap to make: the whole-frame pass costs about 3 ms of one core at 720p.
    """

    def detect(self, half: NDArray[np.uint8], *, scale: float = 2.0) -> list[Detection]:
        """Faces in a frame given as `half`, a copy downscaled by `scale` (frame = half * scale).

        Both models see the whole frame: the full-range one finds faces down to about 7% of the
        frame's longer side, the short-range one close-ups.
        """
        quarter = np.asarray(
            cv2.resize(
                half, (max(1, half.shape[1] // 2), max(1, half.shape[0] // 2)), interpolation=cv2.INTER_AREA
            ),
            dtype=np.uint8,
        )
        factor = scale * half.shape[1] / quarter.shape[1]
        candidates = _detect_square(FULL_RANGE, quarter, (0.0, 0.0), factor)
        candidates += _detect_square(SHORT_RANGE, quarter, (0.0, 0.0), factor)
        return _merge(candidates)

    def detect_tile(
        self, half: NDArray[np.uint8], tile: tuple[int, int, int, int], *, scale: float = 2.0
    ) -> list[Detection]:
        """Faces in one tile (x0, y0, x1, y1 in `half` pixels) with both models.

        A tile as tall as the frame finds faces down to about 5% of the frame's height (about
        35 px at 720p), which the whole-frame pass misses in wide shots; the short-range model
        sees faces there that look down or away better than the full-range one.
        """
        x0, y0, x1, y1 = tile
        piece = half[y0:y1, x0:x1]
        origin = (x0 * scale, y0 * scale)
        return _merge(
            _detect_square(FULL_RANGE, piece, origin, scale)
            + _detect_square(SHORT_RANGE, piece, origin, scale)
        )


def tile_boxes(width: int, height: int, *, largest: int = 360) -> list[tuple[int, int, int, int]]:
    """Overlapping squares covering an image, each overlapping its neighbours by a quarter.

    A tile is as tall as the image's shorter side, at most `largest` pixels (in the half-size
    picture the tracker passes: 720 px of a 720p or 1080p frame), or 60% of a near-square image's
    side: faces from about 5% of a tile's side are found.
    """
    side = min(width, height, largest)
    if max(width, height) < min(width, height) * 1.25 and side == min(width, height):
        side = round(0.6 * side)

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = int(np.ceil((length - side) / (0.75 * side))) + 1
        return [int(s) for s in np.linspace(0, length - side, count).round()]

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]
