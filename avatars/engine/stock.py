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
#: The presenter's own softer tones (the constants above are shared with the anonymizer's face).
SCLERA = (238, 234, 228)
SCLERA_SHADE = (214, 204, 198)
LID = SKIN
LASH = (48, 34, 30)
BROW = (84, 62, 52)
LIP_UPPER = (172, 96, 94)
LIP_LOWER = (192, 112, 108)
LIP_HIGHLIGHT = (206, 132, 126)
MOUTH_DEEP = (38, 12, 18)
TEETH_SOFT = (226, 220, 206)
TEETH_SHADE = (176, 164, 152)
HAIR_LIGHT = (65, 47, 40)
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
        shelf = np.array([[1.7, -0.9], [3.3, -0.9], [3.3, 0.9], [1.7, 0.9]])
        self._fill(image, shelf, identity, (176, 190, 204))
        for row in (-0.45, 0.05, 0.55):
            books = np.array([[1.8, row - 0.3], [3.2, row - 0.3], [3.2, row], [1.8, row]])
            self._fill(image, books, identity, (150, 164, 182))
        # The room is out of focus behind the presenter, as with a portrait lens.
        image[...] = cv2.GaussianBlur(image, (0, 0), max(1.0, self.unit * 0.06))
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
        # A darker rim under a slightly smaller face gives the face volume without outlines.
        self._fill(image, self._outline, matrix, SKIN_SHADE)
        self._fill(image, self._outline * [0.93, 0.965] + [0.0, -0.01], matrix, SKIN)
        self._fill(image, _ellipse(0, 0.9, 0.3, 0.07), matrix, SKIN_SHADE)
        for side in (-1, 1):
            # Soft warmth on the cheeks, close to the skin tone (no painted blush).
            self._fill(image, _ellipse(side * 0.4, 0.3, 0.15, 0.1), matrix, (234, 186, 158))
        fringe = np.concatenate(
            [
                _ellipse(0, -0.52, 0.8, 0.5, 36)[18:],
                np.array(
                    [[0.8, -0.52], [0.62, -0.48], [0.25, -0.62], [-0.3, -0.5], [-0.7, -0.4], [-0.8, -0.52]]
                ),
            ]
        )
        self._fill(image, fringe, matrix, HAIR)
        # A soft sheen along the crown breaks up the flat helmet of hair.
        self._fill(image, _ellipse(-0.15, -0.86, 0.42, 0.05, 32), matrix, HAIR_LIGHT)
        self._draw_eyes(image, matrix, pose)
        # Nose: a shaded side of the bridge and a rounded tip, no outline.
        bridge = np.array([[0.05, -0.06], [0.085, 0.16], [0.06, 0.2], [0.035, 0.0]])
        self._fill(image, bridge, matrix, SKIN_SHADE)
        self._fill(image, _ellipse(0.0, 0.225, 0.085, 0.05, 24), matrix, SKIN_SHADE)
        self._fill(image, _ellipse(-0.01, 0.21, 0.06, 0.035, 24), matrix, SKIN)
        for side in (-1, 1):
            self._fill(image, _ellipse(side * 0.045, 0.262, 0.026, 0.013, 16), matrix, SKIN_DEEP)
        self._draw_mouth(image, matrix, *mouth)
        return image

    def _draw_eyes(self, image: NDArray[np.uint8], matrix: NDArray[np.float64], pose: Pose) -> None:
        """Almond eyes with the upper lid resting over the top of the iris (a relaxed look, not a
        stare); a blink lowers that lid to the lower one. The eyes keep looking at the camera while
        the head sways, as people's do."""
        closing = float(np.clip(pose.blink, 0, 1))
        steps = np.linspace(-1, 1, 15)
        gaze = -0.004 * pose.angle
        for side in (-1, 1):
            cx, cy = side * 0.335, -0.08
            # Tapered brows, a little higher at the inner end.
            top_edge = np.stack(
                [cx + side * 0.17 * steps, cy - 0.165 - 0.03 * (1 - steps**2) + 0.012 * steps * side], axis=1
            )
            thickness = 0.028 * (1 - 0.55 * ((steps * side + 1) / 2) ** 2)
            brow = np.concatenate([top_edge, (top_edge + np.stack([0 * steps, thickness], axis=1))[::-1]])
            self._fill(image, brow, matrix, BROW)
            # Eye opening: upper arc peaks towards the inner corner, lower arc is flatter.
            skew = 0.25 * side * steps
            upper_open = cy - 0.062 * (1 - steps**2) ** 0.8 * (1 - 0.15 * skew)
            lower = cy + 0.038 * (1 - steps**2) ** 0.9
            xs = cx + 0.145 * steps
            lid = upper_open + (lower - 0.004 - upper_open) * closing
            opening = np.concatenate(
                [np.stack([xs, upper_open], axis=1), np.stack([xs, lower], axis=1)[::-1]]
            )
            self._fill(image, opening, matrix, SCLERA_SHADE)
            self._fill(image, _ellipse(cx, cy - 0.008, 0.11, 0.04, 32), matrix, SCLERA)
            iris_x = cx + gaze
            self._fill(image, _ellipse(iris_x, cy - 0.004, 0.058, 0.058, 32), matrix, IRIS)
            self._fill(image, _ellipse(iris_x, cy - 0.004, 0.045, 0.045, 28), matrix, (70, 100, 74))
            self._fill(image, _ellipse(iris_x, cy - 0.004, 0.026, 0.026, 20), matrix, PUPIL)
            self._fill(image, _ellipse(iris_x + 0.017, cy - 0.024, 0.009, 0.008, 10), matrix, (250, 250, 248))
            # Skin above the lid (covering the top of the iris) and below the lower lid.
            crease = cy - 0.11 * (1 - steps**2) ** 0.6
            lid_skin = np.concatenate(
                [np.stack([xs * 1.04 - cx * 0.04, crease - 0.03], axis=1), np.stack([xs, lid], axis=1)[::-1]]
            )
            self._fill(image, lid_skin, matrix, LID)
            under = np.concatenate(
                [np.stack([xs, lower], axis=1), np.stack([xs * 1.04 - cx * 0.04, lower + 0.05], axis=1)[::-1]]
            )
            self._fill(image, under, matrix, SKIN)
            self._line(image, np.stack([xs, crease + 0.004], axis=1)[3:-3], matrix, SKIN_SHADE, 0.006)
            self._line(image, np.stack([xs, lower + 0.004], axis=1)[2:-2], matrix, SKIN_SHADE, 0.008)
            # Lash line along the lid's edge, heavier at the outer corner.
            self._line(image, np.stack([xs, lid], axis=1), matrix, LASH, 0.013)
            outer = np.array(
                [
                    [cx + side * 0.12, lid[-1 if side > 0 else 0] - 0.004],
                    [cx + side * 0.155, lid[-1 if side > 0 else 0] - 0.018],
                ]
            )
            self._line(image, outer, matrix, LASH, 0.01)

    def _draw_mouth(
        self,
        image: NDArray[np.uint8],
        matrix: NDArray[np.float64],
        opening: float,
        width: float,
        roundness: float,
    ) -> None:
        """Lips with the upper one darker and a highlight on the lower; between them when open, a
        shaded cavity, a short band of upper teeth in the lip's shadow, the tongue on wide vowels."""
        opening, width, roundness = (float(np.clip(v, 0, 1)) for v in (opening, width, roundness))
        cx, cy = 0.0, 0.53
        half = 0.15 + 0.09 * width - 0.06 * roundness
        gap = 0.008 + 0.19 * opening
        lip = 0.04 + 0.015 * roundness
        steps = np.linspace(-1, 1, 21)
        bow = 0.01 * np.cos(steps * np.pi * 2) * (1 - np.abs(steps))
        bulge = np.sqrt(np.clip(1 - steps**2, 0, 1))
        # The corners turn up a touch: a relaxed, friendly mouth.
        lift = -0.012 * steps**4
        inner_top = np.stack([cx + half * steps * 0.92, cy + lift - gap * 0.3 * bulge], axis=1)
        inner_bottom = np.stack([cx + half * steps * 0.92, cy + lift + gap * 0.7 * bulge], axis=1)
        outer_top = np.stack(
            [cx + half * steps, cy + lift - gap * 0.3 * bulge - lip * bulge**0.6 - bow], axis=1
        )
        outer_bottom = np.stack(
            [cx + half * steps, cy + lift + gap * 0.7 * bulge + lip * 1.3 * bulge**0.6], axis=1
        )
        # Shadow under the lower lip.
        self._fill(
            image, _ellipse(cx, cy + gap * 0.7 + lip * 1.5 + 0.02, half * 0.55, 0.022, 24), matrix, SKIN_SHADE
        )
        self._fill(image, np.concatenate([outer_top, inner_top[::-1]]), matrix, LIP_UPPER)
        self._fill(image, np.concatenate([inner_bottom, outer_bottom[::-1]]), matrix, LIP_LOWER)
        shine = _ellipse(cx + 0.02, cy + gap * 0.7 + lip * 0.6, half * 0.35, lip * 0.25, 20)
        self._fill(image, shine, matrix, LIP_HIGHLIGHT)
        if opening > 0.04:
            cavity = np.concatenate([inner_top, inner_bottom[::-1]])
            self._fill(image, cavity, matrix, MOUTH)
            self._fill(image, _ellipse(cx, cy + gap * 0.25, half * 0.55, gap * 0.35, 24), matrix, MOUTH_DEEP)
            if opening > 0.35:
                tongue = _ellipse(cx, cy + gap * 0.62, half * 0.5, gap * 0.17, 24)
                self._fill(image, tongue, matrix, TONGUE)
            # Upper teeth: only the front ones, in the upper lip's shadow, never a full band.
            depth = min(gap * 0.3, 0.026)
            front = np.abs(steps) <= 0.62
            top_row = inner_top[front]
            teeth = np.concatenate(
                [
                    top_row,
                    (
                        top_row
                        + np.stack(
                            [0 * top_row[:, 0], depth * np.sqrt(1 - (steps[front] / 0.7) ** 2)], axis=1
                        )
                    )[::-1],
                ]
            )
            self._fill(image, teeth, matrix, TEETH_SOFT)
            self._line(image, top_row, matrix, TEETH_SHADE, 0.01)
            if opening > 0.6:
                low = inner_bottom[np.abs(steps) <= 0.45]
                lower_teeth = np.concatenate([low, (low - [0, 0.012])[::-1]])
                self._fill(image, lower_teeth, matrix, TEETH_SHADE)
        else:
            self._line(image, inner_top[2:-2], matrix, LIP_DARK, 0.014)
