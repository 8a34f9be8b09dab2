"""A drawn face that depicts no real person, posed and animated like the face it replaces.

The face is a fixed cartoon head in 3D head coordinates (units of half the forehead-chin length,
x to the person's left, y down, z backwards), rotated by the real head's rotation and projected
orthographically, so turning, nodding and tilting carry over; mouth opening and width, each
eye's openness and the brows follow the real face. Its proportions are the engine's own constants,
never the person's: nothing about the real face's shape reaches the picture.

A look is a palette (colours from the stock presenter's family, `avatars.engine.stock`) and a set
of proportions (face width, where the eyes, nose and mouth sit, eye size). Each track gets one
look, so that two replaced people in one video stay distinguishable, and the engine picks it so
that a face recogniser does not take the drawn face for the person it replaces (see
`avatars.engine.anonymize.pipeline`): the proportions matter for that far more than the colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.mesh import Expression
from avatars.engine.stock import EYE_WHITE, LIP_DARK, MOUTH, PUPIL, TEETH

_SHIFT = 4
_SCALE = 1 << _SHIFT

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    skin: Color
    shade: Color
    deep: Color
    hair: Color
    lip: Color
    iris: Color


PALETTES = (
    Palette((205, 160, 125), (185, 138, 106), (160, 112, 85), (150, 112, 60), (178, 96, 92), (70, 100, 140)),
    Palette((150, 104, 78), (130, 88, 64), (108, 70, 50), (30, 26, 24), (120, 64, 62), (60, 44, 30)),
    Palette(
        (240, 208, 186), (222, 184, 160), (200, 156, 132), (120, 120, 124), (196, 120, 120), (80, 110, 80)
    ),
    Palette((120, 80, 60), (100, 66, 50), (80, 50, 36), (200, 200, 205), (110, 60, 60), (40, 30, 20)),
    Palette((250, 220, 200), (230, 195, 175), (210, 165, 140), (20, 20, 22), (200, 110, 120), (50, 90, 160)),
)


@dataclass(frozen=True)
class Shape:
    """Proportions of a drawn face, in head units (see the module docstring)."""

    face_width: float
    eye_spacing: float  # from the middle to each eye's centre
    eye_height: float  # eye centres' y
    eye_size: float  # eyes and brows scaled by this
    nose_length: float  # nose scaled downwards by this
    mouth_height: float  # mouth centre's y
    mouth_size: float


SHAPES = (
    Shape(1.0, 0.36, -0.38, 1.0, 1.0, 0.42, 1.0),
    Shape(0.92, 0.31, -0.31, 0.85, 1.3, 0.52, 0.85),
    Shape(1.08, 0.42, -0.45, 1.15, 0.75, 0.34, 1.15),
)


@dataclass(frozen=True)
class Look:
    palette: Palette
    shape: Shape


#: Every palette with every set of proportions.
LOOKS = tuple(Look(palette, shape) for shape in SHAPES for palette in PALETTES)


def _ring(count: int) -> NDArray[np.float64]:
    return np.linspace(0, 2 * np.pi, count, endpoint=False)


def _surface(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Depth of the face's surface across it: flat in the middle, curving back at the sides
    (shallower than a real face's, so a cartoon stays readable when the head turns)."""
    return 0.55 * (x / 0.82) ** 2


def _face_outline(width: float = 1.0) -> NDArray[np.float64]:
    # An egg: narrower towards the chin, its edge lying on the curved surface.
    t = _ring(48)
    lower = np.clip(np.sin(t), 0, 1)
    x = 0.82 * width * np.cos(t) * (1 - 0.28 * lower**2)
    y = np.sin(t) * np.where(np.sin(t) > 0, 1.0, 1.02)
    return np.stack([x, y, _surface(x)], axis=1)


def _fringe() -> NDArray[np.float64]:
    # Hair over the forehead: a wavy lower edge, lying on the face's surface.
    x = np.array([-0.84, -0.55, -0.1, 0.35, 0.75, 0.86, 0.6, 0.0, -0.6])
    y = np.array([-0.55, -0.78, -0.92, -0.75, -0.62, -0.75, -1.1, -1.22, -1.1])
    return np.stack([x, y, _surface(x)], axis=1)


_OUTLINES = {shape: _face_outline(shape.face_width) for shape in SHAPES}
_FRINGE = _fringe()
#: The hair volume: an ellipsoid (centre, semi-axes) a little larger than the face, set back.
_HAIR_CENTER = np.array([0.0, -0.4, 0.42])
_HAIR_AXES = np.array([1.02, 1.14, 0.95])


def _flat(cx: float, cy: float, z: float, rx: float, ry: float, count: int = 24) -> NDArray[np.float64]:
    """An ellipse lying in the face's plane at depth z."""
    t = _ring(count)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t), np.full(count, z)], axis=1)


class SyntheticFace:
    """Draws the synthetic face into an RGB image for one frame's `Expression`."""

    def draw(
        self, image: NDArray[np.uint8], offset: tuple[int, int], expression: Expression, look: Look
    ) -> None:
        """Draw onto `image`, whose pixel (0, 0) is frame pixel `offset`."""
        palette, shape = look.palette, look.shape
        outline = _OUTLINES.get(shape)
        if outline is None:
            outline = _face_outline(shape.face_width)
        self._image = image
        self._rotation = expression.rotation
        self._unit = expression.unit
        self._origin = expression.origin[:2] - np.asarray(offset, dtype=np.float64)
        self._draw_hair_volume(palette)
        for side in (-1.0, 1.0):
            ear = np.stack(
                [
                    np.full(20, side * 0.84 * shape.face_width),
                    -0.08 + 0.2 * np.sin(_ring(20)),
                    0.62 + 0.12 * np.cos(_ring(20)),
                ],
                axis=1,
            )
            self._fill(ear, palette.shade)
        # The outline of a convex surface seen from any side is the hull of its projection.
        self._fill(outline, palette.skin, hull=True)
        self._fill(_flat(0, 0.86, 0.05, 0.3, 0.09), palette.shade)
        for side in (-1.0, 1.0):
            if self._facing(side * 0.5):
                self._fill(_flat(side * 0.45, 0.12, 0.12, 0.14, 0.08), palette.shade)
        self._fill(_FRINGE, palette.hair)
        self._draw_eyes(expression, palette, shape)
        self._draw_nose(palette, shape)
        self._draw_mouth(expression, palette, shape)

    def _project(self, local: NDArray[np.float64]) -> NDArray[np.int32]:
        pixels = self._origin + self._unit * (local @ self._rotation.T)[:, :2]
        return np.round(pixels * _SCALE).astype(np.int32)

    def _fill(self, local: NDArray[np.float64], color: Color, *, hull: bool = False) -> None:
        points = self._project(local)
        outline = np.asarray(cv2.convexHull(points), dtype=np.int32) if hull else points
        cv2.fillPoly(self._image, [outline], color, cv2.LINE_AA, _SHIFT)

    def _line(self, local: NDArray[np.float64], color: Color, thickness: float) -> None:
        width = max(1, round(thickness * self._unit))
        cv2.polylines(self._image, [self._project(local)], False, color, width, cv2.LINE_AA, _SHIFT)

    def _facing(self, sideways: float) -> bool:
        """Whether a feature whose surface normal leans `sideways` (-1..1) faces the camera."""
        normal = np.array([sideways, 0.0, -1.0])
        return float((self._rotation @ normal)[2]) < -0.2

    def _draw_hair_volume(self, palette: Palette) -> None:
        # Orthographic silhouette of the rotated ellipsoid: the image of the unit sphere under the
        # linear map A is the ellipse L·circle with L·Lᵀ = A·Aᵀ.
        linear = (self._rotation * _HAIR_AXES)[:2] * self._unit
        centre = self._origin + self._unit * (self._rotation @ _HAIR_CENTER)[:2]
        values, vectors = np.linalg.eigh(linear @ linear.T)
        axes = vectors * np.sqrt(np.clip(values, 0, None))
        t = _ring(48)
        outline = centre + np.stack([np.cos(t), np.sin(t)], axis=1) @ axes.T
        cv2.fillPoly(
            self._image, [np.round(outline * _SCALE).astype(np.int32)], palette.hair, cv2.LINE_AA, _SHIFT
        )

    def _draw_eyes(self, expression: Expression, palette: Palette, shape: Shape) -> None:
        raise_by = 0.08 * expression.brow_raise
        for side, openness in ((-1.0, expression.eye_open[0]), (1.0, expression.eye_open[1])):
            if not self._facing(side * 0.35):
                continue
            cx, cy, z = side * shape.eye_spacing, shape.eye_height, 0.06
            self._draw_eye(cx, cy, z, openness, raise_by, palette, shape.eye_size)

    def _draw_eye(
        self, cx: float, cy: float, z: float, openness: float, raise_by: float, palette: Palette, size: float
    ) -> None:
        """One eye and its brow centred on (cx, cy), scaled by `size` about that centre."""

        def at(points: list[list[float]]) -> NDArray[np.float64]:
            placed = np.array(points, dtype=np.float64)
            placed[:, :2] = placed[:, :2] * size + [cx, cy]
            return placed

        def ellipse(rx: float, ry: float, dz: float, count: int) -> NDArray[np.float64]:
            return _flat(cx, cy, z + dz, rx * size, ry * size, count)

        brow = at(
            [
                [-0.2, -0.2 - raise_by, z + 0.02],
                [0, -0.27 - raise_by, z - 0.02],
                [0.2, -0.2 - raise_by, z + 0.02],
            ]
        )
        self._line(brow, palette.hair, 0.05)
        if openness < 0.15:
            self._line(at([[-0.15, 0, z], [0, 0.02, z], [0.15, 0, z]]), palette.deep, 0.03)
            return
        half_height = 0.085 * openness
        self._fill(ellipse(0.15, half_height, 0, 28), EYE_WHITE)
        self._fill(ellipse(0.07, min(0.07, half_height), -0.01, 20), palette.iris)
        self._fill(ellipse(0.035, min(0.035, half_height), -0.02, 12), PUPIL)
        lid = at(
            [
                [-0.16, 0.005, z],
                [-0.08, -half_height * 1.05, z],
                [0.08, -half_height * 1.05, z],
                [0.16, 0.005, z],
            ]
        )
        self._line(lid, palette.deep, 0.025)

    def _draw_nose(self, palette: Palette, shape: Shape) -> None:
        # From the bridge (y = -0.25) downwards, stretched by the shape's nose length.
        bridge = np.array(
            [[0.03, -0.25, -0.2], [0.06, -0.05, -0.4], [0.02, 0.03, -0.42], [-0.06, 0.04, -0.36]]
        )
        bridge[:, 1] = -0.25 + (bridge[:, 1] + 0.25) * shape.nose_length
        self._line(bridge, palette.deep, 0.03)
        nostrils = -0.25 + 0.3 * shape.nose_length
        for side in (-1.0, 1.0):
            self._fill(_flat(side * 0.07, nostrils, -0.3, 0.04, 0.022, 12), palette.deep)

    def _draw_mouth(self, expression: Expression, palette: Palette, shape: Shape) -> None:
        opening, width = expression.mouth_open, expression.mouth_width
        cx, cy, z = 0.0, shape.mouth_height, -0.16
        half = (0.2 + 0.1 * width) * shape.mouth_size
        gap = (0.015 + 0.24 * opening) * shape.mouth_size
        lip = 0.05 * shape.mouth_size
        steps = np.linspace(-1, 1, 17)
        bulge = np.sqrt(np.clip(1 - steps**2, 0, 1))
        # Lips curve back at the corners, following the face's surface.
        depth = z + 0.12 * steps**2
        inner_top = np.stack([cx + half * steps * 0.92, cy - gap * 0.35 * bulge, depth], axis=1)
        inner_bottom = np.stack([cx + half * steps * 0.92, cy + gap * 0.65 * bulge, depth], axis=1)
        outer_top = np.stack([cx + half * steps, cy - gap * 0.35 * bulge - lip * bulge**0.6, depth], axis=1)
        outer_bottom = np.stack(
            [cx + half * steps, cy + gap * 0.65 * bulge + lip * 1.2 * bulge**0.6, depth], axis=1
        )
        self._fill(np.concatenate([outer_top, outer_bottom[::-1]]), palette.lip)
        if opening > 0.05:
            self._fill(np.concatenate([inner_top, inner_bottom[::-1]]), MOUTH)
            teeth_depth = min(gap * 0.35, 0.03)
            teeth = np.concatenate([inner_top, (inner_top + [0, teeth_depth * 1.6, 0])[::-1]])
            self._fill(teeth, TEETH)
        else:
            self._line(inner_top[[0, 8, 16]], LIP_DARK, 0.02)
