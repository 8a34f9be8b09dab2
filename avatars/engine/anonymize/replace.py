"""The region a face occupies and the three ways of replacing it: synthetic face, solid mask, blur.

A region is a closed polygon of `REGION_POINTS` points in frame pixels, generous on purpose: the
face's outline pushed out far enough to take in the ears and the hairline (or, without a mesh,
an ellipse well outside the detector's box). Every region has the same number of points, so the
tracker can interpolate between any two of them.

Compositing is done on the region's bounding box only. The face itself (the outline, pushed out
10%) is always fully replaced; the feathered edge lies outside it, so no skin texture of the face
survives in any mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.detect import LEFT_EYE, RIGHT_EYE, Detection
from avatars.engine.anonymize.mesh import FACE_OVAL, Expression
from avatars.engine.anonymize.synthetic import Look, SyntheticFace

REGION_POINTS = len(FACE_OVAL)
#: How far the replaced region reaches beyond the face outline, per direction in the face's own
#: axes: sideways to take in the ears, upwards for the hairline, a little below the chin.
SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN = 1.28, 1.5, 1.12
#: The part that is always replaced completely, whatever the feathering.
CORE_MARGIN = 1.1
MASK_COLOR = (118, 124, 132)
REDACTION_COLOR = (0, 0, 0)
#: Width of the soft edge (Gaussian sigma) as a share of the face's width; blur mode's region is
#: also grown.
FEATHER = 0.06
BLUR_FEATHER = 0.12
BLUR_GROWTH = 1.25
#: Blur mode: blocks across the face, how far each block is pulled to the mean colour, its jitter
#: and the fine grain over it (standard deviations, in 8-bit levels).
SCRAMBLE_CELLS = 5
SCRAMBLE_FLATTEN = 0.7
SCRAMBLE_NOISE = 4.0
SCRAMBLE_GRAIN = 10.0


@dataclass(frozen=True)
class Region:
    """Where a face is in one frame: the outer polygon (replaced area) and the face's own outline."""

    outer: NDArray[np.float64]
    core: NDArray[np.float64]

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (
            float(self.outer[:, 0].min()),
            float(self.outer[:, 1].min()),
            float(self.outer[:, 0].max()),
            float(self.outer[:, 1].max()),
        )

    def scaled(self, factor: float) -> Region:
        """The region grown about its centre (used while a track coasts without a sighting)."""
        centre = self.outer.mean(axis=0)
        return Region(centre + (self.outer - centre) * factor, centre + (self.core - centre) * factor)

    def shifted(self, delta: NDArray[np.float64]) -> Region:
        return Region(self.outer + delta, self.core + delta)


def _push_out(
    outline: NDArray[np.float64], angle: float, margins: tuple[float, float, float]
) -> NDArray[np.float64]:
    """Scale an outline about its centre along the face's axes: sideways, up and down differently."""
    side, top, bottom = margins
    centre = outline.mean(axis=0)
    cos, sin = math.cos(angle), math.sin(angle)
    rel = outline - centre
    u = rel[:, 0] * cos + rel[:, 1] * sin
    v = -rel[:, 0] * sin + rel[:, 1] * cos
    u = u * side
    v = v * np.where(v < 0, top, bottom)
    return np.stack([centre[0] + u * cos - v * sin, centre[1] + u * sin + v * cos], axis=1)


def region_from_points(points: NDArray[np.float64]) -> Region:
    """The region of a face from its 468-point mesh."""
    outline = points[FACE_OVAL, :2]
    eyes = points[263, :2] - points[33, :2]
    angle = math.atan2(eyes[1], eyes[0])
    return Region(
        _push_out(outline, angle, (SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN)),
        _push_out(outline, angle, (CORE_MARGIN, CORE_MARGIN, CORE_MARGIN)),
    )


def region_from_detection(detection: Detection) -> Region:
    """The region of a face seen only by the detector: an ellipse well beyond its box.

    BlazeFace's box runs from the brows to the chin, so the ellipse is moved up and made taller
    to take in the forehead and hair.
    """
    x0, y0, x1, y1 = detection.box
    width, height = x1 - x0, y1 - y0
    eyes = detection.keypoints[LEFT_EYE] - detection.keypoints[RIGHT_EYE]
    angle = math.atan2(eyes[1], eyes[0])
    t = np.linspace(-np.pi / 2, 1.5 * np.pi, REGION_POINTS, endpoint=False)
    centre_u, centre_v = (x0 + x1) / 2, y0 + 0.4 * height
    outline = np.stack(
        [centre_u + 0.5 * width * 1.02 * np.cos(t), centre_v + 0.62 * height * np.sin(t)], axis=1
    )
    # Rotate the ellipse with the head's tilt about the box centre.
    centre = np.array([centre_u, centre_v])
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    outline = centre + (outline - centre) @ rotation.T
    return Region(
        _push_out(outline, angle, (SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN)),
        _push_out(outline, angle, (CORE_MARGIN, CORE_MARGIN, CORE_MARGIN)),
    )


def _roi(region: Region, shape: tuple[int, ...], pad: int) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = region.box
    left, top = max(0, math.floor(x0) - pad), max(0, math.floor(y0) - pad)
    right, bottom = min(shape[1], math.ceil(x1) + pad), min(shape[0], math.ceil(y1) + pad)
    if right - left < 2 or bottom - top < 2:
        return None
    return left, top, right, bottom


def _polygon_mask(
    polygon: NDArray[np.float64], offset: tuple[float, float], size: tuple[int, int]
) -> NDArray[np.uint8]:
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    points = np.round((polygon - np.asarray(offset)) * 16).astype(np.int32)
    cv2.fillPoly(mask, [points], 255, cv2.LINE_AA, 4)
    return mask


def _scramble(patch: NDArray[np.uint8], face_width: float, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Blur that cannot be undone: about `SCRAMBLE_CELLS` blocks across the face, each pulled
    towards the mean colour and jittered afresh every frame, smoothed, then fine grain on top.

    What survives is a handful of average colours, not a face. Fine grain rather than strong
    per-block noise: random dark blocks can line up like eyes, and dlib's HOG detector then saw
    a "face" in about 1 frame in 10 (measured on GRID and retalking close-ups); with this mix, 0
    in 60.
    """
    height, width = patch.shape[:2]
    block = max(3.0, face_width / SCRAMBLE_CELLS)
    small_w, small_h = max(2, round(width / block)), max(2, round(height / block))
    cells = np.asarray(cv2.resize(patch, (small_w, small_h), interpolation=cv2.INTER_AREA), dtype=np.float32)
    mean = np.asarray(cells.mean(axis=(0, 1)), dtype=np.float32)
    jitter = rng.standard_normal(cells.shape, dtype=np.float32) * SCRAMBLE_NOISE
    cells = cells + (mean - cells) * SCRAMBLE_FLATTEN + jitter
    cells = np.asarray(cv2.GaussianBlur(cells, (0, 0), 0.8), dtype=np.float32)
    # Everything else happens at half size and is enlarged once at the end: the picture is smooth
    # by then, and this is 4x cheaper (a close-up's patch is half a megapixel).
    half = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
    grown = np.asarray(cv2.resize(cells, half, interpolation=cv2.INTER_CUBIC), dtype=np.float32)
    grown += _grain(rng, half)
    small = np.clip(grown, 0, 255).astype(np.uint8)
    return np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


_GRAIN_SIDE = 512
_grain_texture: NDArray[np.float32] | None = None


def _grain(rng: np.random.Generator, size: tuple[int, int]) -> NDArray[np.float32]:
    """Smoothed noise of `size` (width, height): a random window of one precomputed texture
    (drawing fresh normal numbers for every pixel of every frame cost more than the blur itself)."""
    global _grain_texture
    if _grain_texture is None:
        # One channel for all three colours: grey grain looks like film grain, not confetti.
        texture = np.random.default_rng(0).standard_normal((_GRAIN_SIDE, _GRAIN_SIDE), dtype=np.float32)
        blurred = np.asarray(cv2.GaussianBlur(texture, (0, 0), 0.5), dtype=np.float32)
        _grain_texture = blurred[..., None] * (SCRAMBLE_GRAIN * 2)
    width, height = size
    if width > _GRAIN_SIDE or height > _GRAIN_SIDE:
        tiled = np.tile(_grain_texture, (height // _GRAIN_SIDE + 1, width // _GRAIN_SIDE + 1, 1))
        return np.asarray(tiled[:height, :width])
    x = int(rng.integers(0, _GRAIN_SIDE - width + 1))
    y = int(rng.integers(0, _GRAIN_SIDE - height + 1))
    flip = int(rng.integers(0, 4))
    window = _grain_texture[y : y + height, x : x + width]
    # Flips give four times as many distinct grains from the same texture.
    return np.asarray(window[:: 1 if flip & 1 else -1, :: 1 if flip & 2 else -1])


def _feathered(
    region: Region, offset: tuple[int, int], size: tuple[int, int], feather: float
) -> NDArray[np.float32]:
    """Alpha (0..1) that is 1 over the face and fades out across the margin.

    The soft edge is drawn at a reduced scale and enlarged: a wide Gaussian at full resolution
    would cost more than everything else done to the face.
    """
    step = max(1.0, feather / 2)
    small = (max(2, math.ceil(size[0] / step)), max(2, math.ceil(size[1] / step)))
    outer = _polygon_mask(region.outer / step, (offset[0] / step, offset[1] / step), small)
    soft = cv2.resize(cv2.GaussianBlur(outer, (0, 0), feather / step), size, interpolation=cv2.INTER_LINEAR)
    core = _polygon_mask(region.core, offset, size)
    return np.maximum(soft, core).astype(np.float32) * (1 / 255.0)


class Replacer:
    """Replaces face regions in frames in place with the video's chosen mode."""

    def __init__(self, mode: str, seed: int) -> None:
        if mode not in ("synthetic", "mask", "blur"):
            raise ValueError(mode)
        self.mode = mode
        self._rng = np.random.default_rng(seed)
        self._face = SyntheticFace()

    def apply(
        self,
        frame: NDArray[np.uint8],
        region: Region,
        expression: Expression | None,
        look: Look,
    ) -> None:
        """Replace one face region of `frame` (modified in place)."""
        face_width = float(np.ptp(region.core[:, 0]))
        feather = max(1.0, face_width * FEATHER)
        if self.mode == "blur":
            # A crisp oval edge round a blurred blob framed by hair is itself face-like to a HOG
            # detector: blur a wider area with a softer edge.
            region = region.scaled(BLUR_GROWTH)
            feather = max(1.0, face_width * BLUR_FEATHER)
        bounds = _roi(region, frame.shape, pad=math.ceil(feather * 2))
        if bounds is None:
            return
        left, top, right, bottom = bounds
        patch = frame[top:bottom, left:right]
        size = (right - left, bottom - top)
        if self.mode == "mask":
            patch[_polygon_mask(region.outer, (left, top), size) > 127] = MASK_COLOR
            return
        alpha = _feathered(region, (left, top), size, feather)
        canvas = _scramble(patch, face_width, self._rng)
        if self.mode == "synthetic" and expression is not None:
            self._face.draw(canvas, (left, top), expression, look)
        patch[...] = cv2.blendLinear(canvas, patch, alpha, 1.0 - alpha)


def redact(frame: NDArray[np.uint8], box: tuple[float, float, float, float]) -> None:
    """Fill a box given as fractions (x0, y0, x1, y1) of the frame's width and height."""
    height, width = frame.shape[:2]
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    left, right = max(0, math.floor(x0 * width)), min(width, math.ceil(x1 * width))
    top, bottom = max(0, math.floor(y0 * height)), min(height, math.ceil(y1 * height))
    if right > left and bottom > top:
        frame[top:bottom, left:right] = REDACTION_COLOR
