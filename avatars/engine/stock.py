"""The stock presenter: a synthetic doctor the engine draws itself, depicting no real person.

It lets the demo and the tests render a complete, disclosed video without anyone's likeness.
Everything is vector-drawn with OpenCV's anti-aliased polygons in head-local coordinates, so a
head pose is just one affine transform of the points and a frame costs a few milliseconds at 720p.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.motion import Pose

_SHIFT = 4  # sub-pixel precision bits for cv2 polygons: smooth edges at small sizes
_SCALE = 1 << _SHIFT

SKIN = (233, 190, 160)
SKIN_SHADE = (214, 165, 135)
SKIN_DEEP = (190, 140, 112)
HAIR = (58, 42, 36)
LIP = (190, 104, 100)
LIP_DARK = (150, 74, 74)
MOUTH = (70, 24, 30)
TEETH = (245, 243, 236)
TONGUE = (200, 96, 100)
EYE_WHITE = (248, 248, 246)
IRIS = (88, 120, 90)
PUPIL = (20, 20, 24)
COAT = (244, 246, 248)
COAT_SHADE = (205, 212, 220)
SHIRT = (96, 140, 190)
STETHOSCOPE = (50, 54, 60)


def _ellipse(cx: float, cy: float, rx: float, ry: float, count: int = 48) -> NDArray[np.float64]:
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def _face_outline() -> NDArray[np.float64]:
    # An egg shape: the lower half narrows towards the chin.
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    lower = np.clip(np.sin(angles), 0, 1)
    x = 0.74 * np.cos(angles) * (1 - 0.22 * lower**2)
    y = np.sin(angles) * np.where(np.sin(angles) > 0, 1.02, 0.98)
    return np.stack([x, y], axis=1)


class StockPresenter:
    """Draws the stock presenter at a fixed output size; `draw()` makes one RGB frame."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.unit = 0.2 * height  # one face unit: half the face height
        self.center = np.array([width / 2, 0.43 * height])
        self._base = self._draw_base()
        self._frame = np.empty_like(self._base)
        self._outline = _face_outline()

    def _points(self, local: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.int32]:
        homogeneous = np.concatenate([local, np.ones((len(local), 1))], axis=1)
        return np.round((homogeneous @ matrix.T) * _SCALE).astype(np.int32)

    def _fill(
        self,
        image: NDArray[np.uint8],
        local: NDArray[np.float64],
        matrix: NDArray[np.float64],
        color: tuple[int, int, int],
    ) -> None:
        cv2.fillPoly(image, [self._points(local, matrix)], color, cv2.LINE_AA, _SHIFT)

    def _line(
        self,
        image: NDArray[np.uint8],
        local: NDArray[np.float64],
        matrix: NDArray[np.float64],
        color: tuple[int, int, int],
        thickness: float,
    ) -> None:
        cv2.polylines(
            image,
            [self._points(local, matrix)],
            False,
            color,
            max(1, round(thickness * self.unit)),
            cv2.LINE_AA,
            _SHIFT,
        )

    def _matrix(self, pose: Pose) -> NDArray[np.float64]:
        # Rotate about the neck so the chin, not the nose, stays nearly still.
        angle = math.radians(pose.angle)
        cos, sin = math.cos(angle), math.sin(angle)
        pivot = np.array([0.0, 1.1])
        rotation = np.array([[cos, -sin], [sin, cos]])
        offset = pivot - rotation @ pivot + np.array([pose.dx, pose.dy])
        local_to_pixels = np.array([[self.unit, 0, self.center[0]], [0, self.unit, self.center[1]]])
        head = np.eye(3)
        head[:2, :2] = rotation
        head[:2, 2] = offset
        result: NDArray[np.float64] = (np.vstack([local_to_pixels, [0, 0, 1]]) @ head)[:2]
        return result

    def _draw_base(self) -> NDArray[np.uint8]:
        height, width = self.height, self.width
        rows = np.linspace(0, 1, height)[:, None, None]
        top, bottom = np.array([214, 228, 236]), np.array([150, 176, 196])
        image = np.broadcast_to(top * (1 - rows) + bottom * rows, (height, width, 3)).astype(np.uint8).copy()
        identity = np.array([[self.unit, 0, self.center[0]], [0, self.unit, self.center[1]]])
        # A soft window shape behind the presenter gives the room some depth.
        window = np.array([[-3.2, -1.7], [-1.4, -1.7], [-1.4, 0.6], [-3.2, 0.6]])
        self._fill(image, window, identity, (226, 236, 242))
        neck = np.array([[-0.3, 0.55], [0.3, 0.55], [0.34, 1.45], [-0.34, 1.45]])
        self._fill(image, neck, identity, SKIN_SHADE)
        shirt = np.array([[-0.45, 1.2], [0.45, 1.2], [0.0, 2.2]])
        coat = np.array(
            [
                [-2.6, 3.2],
                [-2.3, 1.75],
                [-1.2, 1.3],
                [-0.4, 1.2],
                [0.0, 2.0],
                [0.4, 1.2],
                [1.2, 1.3],
                [2.3, 1.75],
                [2.6, 3.2],
            ]
        )
        self._fill(image, coat, identity, COAT)
        self._fill(image, shirt, identity, SHIRT)
        collar = np.array([[-0.34, 1.28], [0.0, 1.65], [0.34, 1.28], [0.0, 1.48]])
        self._fill(image, collar, identity, SKIN_SHADE)
        for side in (-1, 1):
            lapel = np.array(
                [
                    [side * 0.42, 1.2],
                    [side * 0.02, 2.05],
                    [side * 0.25, 2.9],
                    [side * 0.75, 1.9],
                    [side * 0.6, 1.35],
                ]
            )
            self._fill(image, lapel, identity, COAT_SHADE)
        tube = np.array([[-0.5, 1.28], [-0.62, 1.8], [-0.55, 2.3], [-0.35, 2.55]])
        self._line(image, tube, identity, STETHOSCOPE, 0.05)
        tube[:, 0] *= -1
        self._line(image, tube, identity, STETHOSCOPE, 0.05)
        self._fill(image, _ellipse(-0.3, 2.62, 0.12, 0.12), identity, STETHOSCOPE)
        return image

    def draw(self, mouth: tuple[float, float, float], pose: Pose) -> NDArray[np.uint8]:
        """Return the frame for a mouth shape (open, width, round) and a head pose.

        The returned array is reused by the next call; copy it to keep it.
        """
        np.copyto(self._frame, self._base)
        image, matrix = self._frame, self._matrix(pose)
        self._fill(image, _ellipse(0, -0.3, 0.86, 0.9), matrix, HAIR)
        for side in (-1, 1):
            self._fill(image, _ellipse(side * 0.74, 0.08, 0.12, 0.2), matrix, SKIN_SHADE)
        self._fill(image, self._outline, matrix, SKIN)
        # Shading along the jaw and under the cheekbones gives the face volume.
        self._fill(image, _ellipse(0, 0.9, 0.34, 0.1), matrix, SKIN_SHADE)
        for side in (-1, 1):
            self._fill(image, _ellipse(side * 0.42, 0.32, 0.14, 0.09), matrix, (238, 176, 160))
        fringe = np.concatenate(
            [
                _ellipse(0, -0.52, 0.8, 0.5, 36)[18:],
                np.array(
                    [[0.8, -0.52], [0.62, -0.48], [0.25, -0.62], [-0.3, -0.5], [-0.7, -0.4], [-0.8, -0.52]]
                ),
            ]
        )
        self._fill(image, fringe, matrix, HAIR)
        self._draw_eyes(image, matrix, pose.blink)
        nose = np.array([[0.04, -0.08], [0.09, 0.2], [0.03, 0.27], [-0.06, 0.25]])
        self._line(image, nose, matrix, SKIN_DEEP, 0.025)
        for side in (-1, 1):
            self._fill(image, _ellipse(side * 0.07, 0.27, 0.04, 0.022, 16), matrix, SKIN_DEEP)
        self._draw_mouth(image, matrix, *mouth)
        return image

    def _draw_eyes(self, image: NDArray[np.uint8], matrix: NDArray[np.float64], blink: float) -> None:
        openness = 1.0 - float(np.clip(blink, 0, 1))
        for side in (-1, 1):
            cx, cy = side * 0.3, -0.08
            brow = np.array([[cx - 0.17, cy - 0.15], [cx - 0.02 * side, cy - 0.21], [cx + 0.17, cy - 0.16]])
            self._line(image, brow, matrix, HAIR, 0.045)
            if openness < 0.15:
                lid = np.array([[cx - 0.14, cy], [cx, cy + 0.025], [cx + 0.14, cy]])
                self._line(image, lid, matrix, HAIR, 0.025)
                continue
            half_height = 0.075 * openness
            self._fill(image, _ellipse(cx, cy, 0.14, half_height, 32), matrix, EYE_WHITE)
            iris = min(0.065, half_height)
            self._fill(image, _ellipse(cx, cy, 0.065, iris, 24), matrix, IRIS)
            self._fill(image, _ellipse(cx, cy, 0.032, min(0.032, half_height), 16), matrix, PUPIL)
            self._fill(
                image,
                _ellipse(cx + 0.022, cy - 0.02 * openness, 0.014, 0.014 * openness, 8),
                matrix,
                EYE_WHITE,
            )
            upper = np.array(
                [
                    [cx - 0.15, cy + 0.005],
                    [cx - 0.08, cy - half_height * 1.05],
                    [cx + 0.08, cy - half_height * 1.05],
                    [cx + 0.15, cy + 0.005],
                ]
            )
            self._line(image, upper, matrix, HAIR, 0.022)

    def _draw_mouth(
        self,
        image: NDArray[np.uint8],
        matrix: NDArray[np.float64],
        opening: float,
        width: float,
        roundness: float,
    ) -> None:
        opening, width, roundness = (float(np.clip(v, 0, 1)) for v in (opening, width, roundness))
        cx, cy = 0.0, 0.53
        half = 0.16 + 0.1 * width - 0.07 * roundness
        gap = 0.012 + 0.2 * opening
        lip = 0.045 + 0.015 * roundness
        steps = np.linspace(-1, 1, 17)
        # Upper lip edge has a cupid's bow; both edges bulge more when the lips are rounded.
        bow = 0.012 * np.cos(steps * np.pi * 2) * (1 - np.abs(steps))
        bulge = np.sqrt(np.clip(1 - steps**2, 0, 1))
        inner_top = np.stack([cx + half * steps * 0.92, cy - gap * 0.35 * bulge], axis=1)
        inner_bottom = np.stack([cx + half * steps * 0.92, cy + gap * 0.65 * bulge], axis=1)
        outer_top = np.stack([cx + half * steps, cy - gap * 0.35 * bulge - lip * bulge**0.6 - bow], axis=1)
        outer_bottom = np.stack(
            [cx + half * steps, cy + gap * 0.65 * bulge + lip * 1.25 * bulge**0.6], axis=1
        )
        self._fill(image, np.concatenate([outer_top, outer_bottom[::-1]]), matrix, LIP)
        if opening > 0.04:
            cavity = np.concatenate([inner_top, inner_bottom[::-1]])
            self._fill(image, cavity, matrix, MOUTH)
            teeth_depth = min(gap * 0.35, 0.03)
            teeth = np.concatenate([inner_top, (inner_top + [0, teeth_depth * 1.6])[::-1]])
            self._fill(image, teeth, matrix, TEETH)
            if opening > 0.3:
                tongue = _ellipse(cx, cy + gap * 0.55, half * 0.55, gap * 0.18, 24)
                self._fill(image, tongue, matrix, TONGUE)
        else:
            self._line(
                image,
                np.concatenate([inner_top[:1], inner_top[8:9], inner_top[-1:]]),
                matrix,
                LIP_DARK,
                0.018,
            )
