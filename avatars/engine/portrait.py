"""Portrait mode: one consented photo, animated on its dense face mesh.

MediaPipe's 468-point face mesh (`avatars.engine.anonymize.mesh`, run on ai-edge-litert) locates the
lips, eyelids, jaw line and face outline of the photo. Each frame is then one `cv2.remap` of the
head region:

- **Mouth and jaw.** The lips part along the line where they meet (the mesh's inner lip contour,
  refined to the darkest line between the lips): the lower lip, chin and jaw move down, most in
  the middle and less towards the ears as a jaw hinging there would, the upper lip lifts a little
  and the corners spread or purse. That forward displacement field is inverted by fixed-point
  iteration, so every output pixel samples the photo where its content came from; the skin below
  the chin is compressed rather than painted over.
- **Mouth interior.** The gap between the parted lips is drawn analytically: a dark cavity shaded
  deeper at the corners, an upper-teeth band (only if the photo shows no teeth of its own) whose
  brightness and tint come from the photo's own lighting, the tongue and lower teeth on wide vowels.
  Greyscale photos get grey teeth and cavity.
- **Blinks** fold the upper lid's skin down over the eye (the lid, lashes and make-up move; the
  eyeball below the lid's edge stays where it is), so nothing is painted over the eyes.
- **Head motion**: a sway of about a degree about the neck and a small drift, faded out towards
  the edge of the head so the background stays still.

The photo checks use the same mesh: a photo is refused when its lips are apart with the mouth's dark
interior showing (a smile with the teeth together is accepted), besides the face-size, light,
sharpness and pose checks shared with footage enrollment.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.enrollment import (
    MAX_TURN,
    MIN_EYE_DISTANCE_PX,
    MIN_FACE_BRIGHTNESS,
    MIN_SHARPNESS,
    face_brightness,
    face_sharpness,
)
from avatars.engine.errors import EnrollmentError, UnsupportedModeError
from avatars.engine.media import read_image
from avatars.engine.motion import Pose
from core.media.faces import Face, detect_faces

#: MediaPipe face-mesh indices, from the image's left (the person's right) to its right.
LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
LIPS_OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIPS_OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
MOUTH_CORNERS = (61, 291)
#: Each eye's upper and lower lid contour, corner to corner, and the lower edge of its brow.
EYES = (
    (
        [33, 246, 161, 160, 159, 158, 157, 173, 133],
        [33, 7, 163, 144, 145, 153, 154, 155, 133],
        [46, 53, 52, 65, 55],
    ),
    (
        [362, 398, 384, 385, 386, 387, 388, 466, 263],
        [362, 382, 381, 380, 374, 373, 390, 249, 263],
        [285, 295, 282, 283, 276],
    ),
)
EYE_OUTER = (33, 263)
NOSE_BASE, CHIN = 2, 152
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]  # fmt: skip

#: Framing: the face (forehead to chin) takes this share of the frame's height, and a photo is
#: never enlarged more than this to get there (a small face stays smaller rather than blurred).
FACE_SHARE = 0.38
MAX_ENLARGEMENT = 2.0
#: The lower lip's drop at full opening, in half mouth widths (a wide "ah").
JAW_DROP = 0.62
#: The upper lip lifts by this share of the lower lip's drop.
UPPER_LIP_LIFT = 0.12
#: Mouth corners move sideways by this many half widths between pursed (width 0) and spread (1).
CORNER_SPREAD = 0.22
#: Lips this far apart (share of the mouth's width) count as open if dark mouth interior shows
#: between them; beyond the second figure they count as open whatever shows.
LIPS_APART = 0.1
LIPS_WIDE_APART = 0.3
#: Share of the gap between the lips that must be dark (mouth cavity) for parted lips to count as open.
DARK_SHARE = 0.3
#: Fixed-point iterations inverting the mouth's displacement field (its gradient is well below 1).
INVERSE_STEPS = 3


def _smoothstep(
    edge0: float | NDArray[np.float32], edge1: float | NDArray[np.float32], value: NDArray[np.float32]
) -> NDArray[np.float32]:
    ratio = np.clip((value - edge0) / np.maximum(np.asarray(edge1) - edge0, 1e-6), 0.0, 1.0)
    result: NDArray[np.float32] = (ratio * ratio * (3 - 2 * ratio)).astype(np.float32)
    return result


def fit_mesh(rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float64] | None:
    """The 468-point mesh (x, y in photo pixels) of a detected face, or None if the mesh rejects it.

    The first crop comes from the 5-point detection; two more passes re-crop on the mesh itself
    (as MediaPipe tracks), which settles the crop on big or tilted faces. Big photos are reduced
    first so the model's 192-pixel crop is sampled without aliasing.
    """
    import cv2

    from avatars.engine.anonymize.errors import AnonymizeError
    from avatars.engine.anonymize.mesh import PRESENCE_THRESHOLD, Roi, roi_from_points, run_mesh

    left, top, right, bottom = face.box
    side = float(max(right - left, bottom - top))
    scale = min(1.0, 480.0 / max(side * 1.9, 1.0))
    image = rgb
    if scale < 1.0:
        image = np.asarray(
            cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    eyes = face.points[0] - face.points[2]
    roi = Roi(
        ((left + right) / 2 * scale, (top + bottom) / 2 * scale),
        side * 1.9 * scale,
        math.atan2(eyes[1], eyes[0]),
    )
    try:
        for _ in range(3):
            result = run_mesh(image, roi)
            roi = roi_from_points(result.points)
    except AnonymizeError as exc:
        raise UnsupportedModeError(exc.message) from exc
    if result.presence < PRESENCE_THRESHOLD:
        return None
    points: NDArray[np.float64] = result.points[:, :2] / scale
    return points


def lips_apart(rgb: NDArray[np.uint8], points: NDArray[np.float64]) -> tuple[float, float]:
    """How far apart the lips are (share of the mouth's width) and how dark the gap between them is.

    The darkness is the share of the gap's pixels darker than half the face's median grey level:
    teeth and lips are not, the mouth cavity is. Greyscale photos are measured the same way.
    """
    import cv2

    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    upper, lower = points[LIPS_INNER_UPPER], points[LIPS_INNER_LOWER]
    gap = float(np.linalg.norm(upper[3:8] - lower[3:8], axis=1).mean()) / max(width, 1e-6)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mask = np.zeros(gray.shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)], 1)
    face = np.zeros(gray.shape, dtype=np.uint8)
    cv2.fillPoly(face, [np.round(points[FACE_OVAL]).astype(np.int32)], 1)
    inside = gray[mask > 0]
    skin = float(np.median(gray[face > 0])) if face.any() else 128.0
    dark = float((inside < 0.5 * skin).mean()) if inside.size >= 4 else 0.0
    return gap, dark


def teeth_shown(rgb: NDArray[np.uint8], points: NDArray[np.float64]) -> bool:
    """Whether the photo shows teeth between the lips (then the animation draws none of its own).

    Teeth are brighter than both the lips and most of the face's skin, in colour or greyscale.
    """
    import cv2

    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    upper, lower = points[LIPS_INNER_UPPER], points[LIPS_INNER_LOWER]
    if float(np.linalg.norm(upper[3:8] - lower[3:8], axis=1).mean()) < 0.05 * width:
        return False
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gap = np.zeros(gray.shape, dtype=np.uint8)
    cv2.fillPoly(gap, [np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)], 1)
    lips = np.zeros(gray.shape, dtype=np.uint8)
    cv2.fillPoly(
        lips,
        [
            np.round(np.concatenate([points[LIPS_OUTER_UPPER], points[LIPS_OUTER_LOWER][::-1]])).astype(
                np.int32
            )
        ],
        1,
    )
    lips[gap > 0] = 0
    inside = gray[gap > 0].astype(np.float64)
    if inside.size < 4 or not lips.any():
        return False
    lip_level = float(np.median(gray[lips > 0]))
    return float((inside > 1.25 * lip_level + 10).mean()) > 0.25


def inspect_photo(name: str, rgb: NDArray[np.uint8], faces: list[Face]) -> tuple[Face, NDArray[np.float64]]:
    """Quality checks for a portrait photo; returns its one face and mesh or raises `EnrollmentError`."""
    import cv2

    gray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    if not faces:
        if gray.mean() < 40:
            raise EnrollmentError(
                f"'{name}' is too dark to find a face. Take the photo again facing a window or lamp.",
                code="photo_too_dark",
            )
        raise EnrollmentError(
            f"No face was found in '{name}'. Use a photo of your face, looking at the camera.", code="no_face"
        )
    if len(faces) > 1:
        raise EnrollmentError(
            f"{len(faces)} faces appear in '{name}'. Use a photo of you alone, with no other people or pictures of faces.",
            code="several_faces",
        )
    face = faces[0]
    if face.eye_distance < MIN_EYE_DISTANCE_PX:
        raise EnrollmentError(
            f"Your face is too small in '{name}'. Use a closer or higher-resolution photo (your face about a third "
            "of the picture height).",
            code="face_too_small",
        )
    if face_brightness(gray, face.box) < MIN_FACE_BRIGHTNESS:
        raise EnrollmentError(
            f"Your face is too dark in '{name}'. Take the photo again with light in front of you.",
            code="face_too_dark",
        )
    if face_sharpness(gray, face.box) < MIN_SHARPNESS:
        raise EnrollmentError(
            f"'{name}' is blurred. Take the photo again, holding the camera still.", code="photo_blurred"
        )
    if abs(face.turn) > MAX_TURN:
        raise EnrollmentError(
            f"Your head is turned in '{name}'. Use a photo looking straight into the camera.",
            code="head_turned",
        )
    points = fit_mesh(rgb, face)
    if points is None:
        raise EnrollmentError(
            f"The face in '{name}' could not be mapped (it may be covered, cut off or drawn). Use a clear "
            "photo of your whole face, looking at the camera.",
            code="no_face_mesh",
        )
    gap, dark = lips_apart(rgb, points)
    if gap > LIPS_WIDE_APART or (gap > LIPS_APART and dark > DARK_SHARE):
        raise EnrollmentError(
            f"Your mouth is open in '{name}'. Use a photo with a relaxed face and lips closed (a smile is "
            "fine): the animation opens the mouth itself.",
            code="mouth_open",
        )
    return face, points


def check_photo(name: str, rgb: NDArray[np.uint8], faces: list[Face]) -> Face:
    """Quality checks for a portrait photo; returns its one face or raises `EnrollmentError`."""
    return inspect_photo(name, rgb, faces)[0]


def _curve(s: NDArray[np.float64], t: NDArray[np.float64], grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """t as a function of s on `grid`, from scattered contour points (held constant past the ends)."""
    order = np.argsort(s)
    return np.interp(grid, s[order], t[order])


@dataclass
class _Eye:
    """One eye's blink geometry over a small box of the region of interest (box-relative pixels)."""

    box: tuple[int, int, int, int]  # left, top, right, bottom inside the region of interest
    along: NDArray[np.float32]  # 0 at one corner, 1 at the other
    across: NDArray[np.float32]  # pixels along the face's down direction
    lid: NDArray[np.float32]  # upper lid edge, in `across` units
    lower: NDArray[np.float32]  # lower lid edge
    crease: NDArray[np.float32]  # where the lid skin stops stretching
    down: tuple[float, float]
    reach: tuple[int, int, int, int]  # the box with room for the head's sway


class PortraitSource:
    """Frames of portrait mode for one photo, at the render's output size."""

    def __init__(self, photo: Path, width: int, height: int) -> None:
        rgb = read_image(photo)
        face, mesh = inspect_photo(photo.name, rgb, detect_faces(rgb, thorough=True))
        self.width, self.height = width, height
        self.teeth_shown = teeth_shown(rgb, mesh)
        self.base, points = self._fit(rgb, mesh)
        self._prepare(points)

    def _fit(
        self, rgb: NDArray[np.uint8], points: NDArray[np.float64]
    ) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """Frame the photo as a talking head: the face about 0.38 of the picture's height (never
        enlarged more than 2x), centred, eyes a little above the middle; a photo that cannot fill
        the frame is filled out with a blurred, darkened copy of itself."""
        import cv2

        face_height = float(np.linalg.norm(points[CHIN] - points[FACE_OVAL[0]]))
        fill_height = self.height / rgb.shape[0]
        scale = max(fill_height, min(FACE_SHARE * self.height / max(face_height, 1.0), MAX_ENLARGEMENT))
        face = (points[CHIN] + points[FACE_OVAL[0]]) / 2 * scale
        resized = cv2.resize(
            rgb,
            (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        )
        # Where the photo's top-left corner goes in the frame, keeping the frame inside the photo
        # wherever the photo is big enough.
        offset = np.array([self.width / 2 - face[0], 0.47 * self.height - face[1]])
        for axis, (size, frame_size) in enumerate(
            ((resized.shape[1], self.width), (resized.shape[0], self.height))
        ):
            offset[axis] = (
                np.clip(offset[axis], frame_size - size, 0) if size >= frame_size else (frame_size - size) / 2
            )
        x, y = int(round(offset[0])), int(round(offset[1]))
        canvas = np.empty((self.height, self.width, 3), dtype=np.uint8)
        if resized.shape[1] < self.width or resized.shape[0] < self.height:
            backdrop = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
            canvas[...] = (cv2.GaussianBlur(backdrop, (0, 0), self.width / 40) * 0.6).astype(np.uint8)
        src_x0, src_y0 = max(0, -x), max(0, -y)
        dst_x0, dst_y0 = max(0, x), max(0, y)
        width = min(resized.shape[1] - src_x0, self.width - dst_x0)
        height = min(resized.shape[0] - src_y0, self.height - dst_y0)
        canvas[dst_y0 : dst_y0 + height, dst_x0 : dst_x0 + width] = resized[
            src_y0 : src_y0 + height, src_x0 : src_x0 + width
        ]
        return canvas, points * scale + [x, y]

    # -- geometry, computed once per photo ---------------------------------------------------

    def _prepare(self, points: NDArray[np.float64]) -> None:
        corner_a, corner_b = points[MOUTH_CORNERS[0]], points[MOUTH_CORNERS[1]]
        across = (corner_b - corner_a) / max(float(np.linalg.norm(corner_b - corner_a)), 1e-6)
        down = np.array([-across[1], across[0]])
        if down[1] < 0:
            down = -down
        self.across, self.down = across, down
        self.half_width = float(np.linalg.norm(corner_b - corner_a)) / 2
        self.origin = (points[13] + points[14]) / 2
        self.eye_distance = float(np.linalg.norm(points[EYE_OUTER[1]] - points[EYE_OUTER[0]]))

        def local(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            rel = p - self.origin
            return rel @ across / self.half_width, rel @ down / self.half_width

        self.grid_s = np.linspace(-2.5, 2.5, 251)
        upper_s, upper_t = local(points[LIPS_INNER_UPPER])
        lower_s, lower_t = local(points[LIPS_INNER_LOWER])
        upper_curve, lower_curve = (
            _curve(upper_s, upper_t, self.grid_s),
            _curve(lower_s, lower_t, self.grid_s),
        )
        if self.teeth_shown:
            # Teeth between the lips: the jaw parts where the upper teeth end, near the lower lip
            # (in a smile the lower teeth are mostly hidden behind it).
            self.seam = upper_curve + 0.8 * (lower_curve - upper_curve)
        else:
            self.seam = self._refine_seam((upper_curve + lower_curve) / 2)
        oval_s, oval_t = local(points[FACE_OVAL])
        level = np.abs(oval_t) < 0.6
        # Each side's own reach: on a turned head the near cheek is narrower than the far one.
        sides = [level & (oval_s < 0), level & (oval_s > 0)]
        self.jaw_reach = tuple(float(np.abs(oval_s[side]).mean()) if side.any() else 2.4 for side in sides)
        chin_t = float(local(points[CHIN][None])[1][0])
        self.chin_t = max(chin_t, 0.8)
        below = oval_t > 0
        self.jaw_line = (
            _curve(oval_s[below], oval_t[below], self.grid_s)
            if below.sum() >= 2
            else np.full_like(self.grid_s, chin_t)
        )
        self.nose_t = float(local(points[NOSE_BASE][None])[1][0])
        self._colours(points)
        self._region(points)
        self._fields()
        self._eyes = [self._eye(points, upper, lower, brow) for upper, lower, brow in EYES]

    def _refine_seam(self, seam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Move the mesh's lip line onto the darkest line between the lips (the mesh is a few pixels off)."""
        import cv2

        gray = cv2.GaussianBlur(cv2.cvtColor(self.base, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 0.8)
        columns = np.abs(self.grid_s) <= 0.85
        s = self.grid_s[columns]
        reach = max(0.1, 3.0 / self.half_width)
        steps = np.linspace(-reach, reach, 25)
        t = seam[columns][:, None] + steps[None, :]
        xy = self.origin + self.half_width * (s[:, None, None] * self.across + t[..., None] * self.down)
        profile = cv2.remap(
            gray,
            xy[..., 0].astype(np.float32),
            xy[..., 1].astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        shift = steps[np.argmin(profile, axis=1)]
        # A median across neighbouring columns drops single dark pixels (stubble, a mole).
        padded = np.pad(shift, 4, mode="edge")
        shift = np.array([np.median(padded[i : i + 9]) for i in range(len(shift))])
        # The lip line is a smooth curve: a cubic through the column minima, no zigzag.
        shift = np.polyval(np.polyfit(s, shift, 3), s)
        fade = 1 - _smoothstep(0.55, 0.85, np.abs(s).astype(np.float32))
        refined = seam.copy()
        refined[columns] += shift * fade
        return refined

    def _colours(self, points: NDArray[np.float64]) -> None:
        """Lip, teeth, cavity and tongue colours from the photo's own lips and lighting."""
        import cv2

        lips = np.zeros(self.base.shape[:2], dtype=np.uint8)
        cv2.fillPoly(
            lips,
            [
                np.round(np.concatenate([points[LIPS_OUTER_UPPER], points[LIPS_OUTER_LOWER][::-1]])).astype(
                    np.int32
                )
            ],
            1,
        )
        face = np.zeros(self.base.shape[:2], dtype=np.uint8)
        cv2.fillPoly(face, [np.round(points[FACE_OVAL]).astype(np.int32)], 1)
        pixels = self.base[lips > 0].astype(np.float64)
        lip = pixels.mean(axis=0) if len(pixels) else np.array([150.0, 90.0, 90.0])
        skin_pixels = self.base[face > 0].astype(np.float64)
        skin = np.median(skin_pixels, axis=0) if len(skin_pixels) else np.array([200.0, 160.0, 140.0])
        luminance = skin_pixels @ [0.299, 0.587, 0.114] if len(skin_pixels) else np.array([180.0])
        bright = float(np.percentile(luminance, 97))
        # Teeth in the mouth's shade: a little below the face's highlights, tinted by the light.
        tint = skin / max(float(skin.mean()), 1.0)
        self.teeth_colour = np.clip(min(225.0, 0.9 * bright) * (0.88 + 0.12 * tint), 0, 255).astype(
            np.float32
        )
        self.cavity_colour = (lip * 0.2 + 3).astype(np.float32)
        self.tongue_colour = (lip * 0.62).astype(np.float32)

    def _region(self, points: NDArray[np.float64]) -> None:
        """The head's region of interest and the weight of head motion over it."""
        oval = points[FACE_OVAL]
        centre = oval.mean(axis=0)
        rel = oval - centre
        extent_across = float(np.abs(rel @ self.across).max())
        extent_down = float(np.abs(rel @ self.down).max())
        radius_across, radius_down = extent_across * 1.35, extent_down * 1.3
        reach = 1.3 * max(radius_across, radius_down)
        left = int(max(0, centre[0] - reach))
        right = int(min(self.width, centre[0] + reach))
        top = int(max(0, centre[1] - reach))
        bottom = int(min(self.height, centre[1] + reach))
        self.roi = (left, top, right, bottom)
        ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
        self.grid_x, self.grid_y = xs, ys
        rx, ry = xs - centre[0], ys - centre[1]
        u = (rx * self.across[0] + ry * self.across[1]) / radius_across
        v = (rx * self.down[0] + ry * self.down[1]) / radius_down
        self.head_weight = (1 - _smoothstep(0.9, 1.25, np.sqrt(u * u + v * v))).astype(np.float32)
        self.pivot = points[CHIN] + self.down * 0.5 * self.eye_distance
        # A grid 8 times coarser, at the centres of the pixels `cv2.resize` enlarges it from.
        coarse_w, coarse_h = max(2, (right - left + 7) // 8), max(2, (bottom - top + 7) // 8)
        cx = left + (np.arange(coarse_w) + 0.5) * (right - left) / coarse_w - 0.5
        cy = top + (np.arange(coarse_h) + 0.5) * (bottom - top) / coarse_h - 0.5
        self.coarse_x, self.coarse_y = (a.astype(np.float32) for a in np.meshgrid(cx, cy))
        cu = (
            (self.coarse_x - centre[0]) * self.across[0] + (self.coarse_y - centre[1]) * self.across[1]
        ) / radius_across
        cv = (
            (self.coarse_x - centre[0]) * self.down[0] + (self.coarse_y - centre[1]) * self.down[1]
        ) / radius_down
        self.coarse_weight = (1 - _smoothstep(0.9, 1.25, np.sqrt(cu * cu + cv * cv))).astype(np.float32)
        # Face-aligned coordinates (half mouth widths) of every pixel, for the fields and the interior.
        ox, oy = xs - self.origin[0], ys - self.origin[1]
        self.pixel_s = ((ox * self.across[0] + oy * self.across[1]) / self.half_width).astype(np.float32)
        self.pixel_t = ((ox * self.down[0] + oy * self.down[1]) / self.half_width).astype(np.float32)

    def _fields(self) -> None:
        """Displacement (pixels) per unit jaw drop and per unit corner spread over the region."""
        s, t = self.pixel_s, self.pixel_t
        grid = self.grid_s
        seam = np.interp(s, grid, self.seam).astype(np.float32)
        jaw_line = np.interp(s, grid, self.jaw_line).astype(np.float32)
        lips = np.sqrt(np.clip(1 - s * s, 0, 1)).astype(np.float32)
        reach = np.where(s < 0, self.jaw_reach[0], self.jaw_reach[1]).astype(np.float32)
        jaw = 1 - _smoothstep(0.35 * reach, 1.1 * reach, np.abs(s))
        below = t - seam
        # Beside the mouth the drop grows from nothing at the corners' level to the jaw's: slowly
        # enough (slope under 0.6) that the warp never folds and its inverse converges.
        ramp = _smoothstep(0.0, max(0.55 * self.chin_t, 2.5 * JAW_DROP), below)
        neck = 1 - _smoothstep(jaw_line, jaw_line + 0.7 * self.chin_t, t)
        lower = (lips + (jaw - lips) * ramp) * (1 + 0.15 * ramp) * neck
        upper = -UPPER_LIP_LIFT * lips * _smoothstep(self.nose_t, seam, t)
        vertical = np.where(below >= 0, lower, upper) * self.half_width
        spread = s * np.exp(-((np.clip(np.abs(s) - 1, 0, None) / 0.6) ** 2))
        band = np.exp(-((below / np.where(below > 0, 1.0, 0.6)) ** 2))
        sideways = spread * band * self.half_width
        drop_field = np.stack([vertical * self.down[0], vertical * self.down[1]], axis=-1)
        spread_field = np.stack([sideways * self.across[0], sideways * self.across[1]], axis=-1)
        # Keep only the box where the fields move anything (plus room for the head's sway): the
        # fixed-point inversion then runs on the lower face alone.
        moving = (np.abs(vertical) > 0.02) | (np.abs(sideways) > 0.02)
        rows, columns = np.nonzero(moving)
        margin = int(0.15 * self.eye_distance) + 3
        height, width = moving.shape
        y0, y1 = max(0, int(rows.min()) - margin), min(height, int(rows.max()) + margin + 1)
        x0, x1 = max(0, int(columns.min()) - margin), min(width, int(columns.max()) + margin + 1)
        self.mouth_box = (x0, y0, x1, y1)
        self.drop_field = np.ascontiguousarray(drop_field[y0:y1, x0:x1], dtype=np.float32)
        self.spread_field = np.ascontiguousarray(spread_field[y0:y1, x0:x1], dtype=np.float32)
        self.field = np.zeros_like(self.drop_field)

    def _eye(self, points: NDArray[np.float64], upper: list[int], lower: list[int], brow: list[int]) -> _Eye:
        corner_a, corner_b = points[upper[0]], points[upper[-1]]
        width = max(float(np.linalg.norm(corner_b - corner_a)), 1e-6)
        along_axis = (corner_b - corner_a) / width
        down = np.array([-along_axis[1], along_axis[0]])
        if down @ self.down < 0:
            down = -down

        def local(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            rel = p - corner_a
            return rel @ along_axis / width, rel @ down

        up_u, up_v = local(points[upper])
        low_u, low_v = local(points[lower])
        left, top, right, bottom = self.roi
        corners = np.array(
            [corner_a + down * (up_v.min() - 0.45 * width), corner_b + down * (up_v.min() - 0.45 * width),
             corner_a + down * (low_v.max() + 2), corner_b + down * (low_v.max() + 2)]
        )  # fmt: skip
        x0 = int(max(left, corners[:, 0].min() - 0.1 * width - 2)) - left
        x1 = int(min(right, corners[:, 0].max() + 0.1 * width + 2)) - left
        y0 = int(max(top, corners[:, 1].min() - 2)) - top
        y1 = int(min(bottom, corners[:, 1].max() + 2)) - top
        xs = self.grid_x[y0:y1, x0:x1]
        ys = self.grid_y[y0:y1, x0:x1]
        rel_x, rel_y = xs - corner_a[0], ys - corner_a[1]
        along = ((rel_x * along_axis[0] + rel_y * along_axis[1]) / width).astype(np.float32)
        across = (rel_x * down[0] + rel_y * down[1]).astype(np.float32)
        lid = _curve(up_u, up_v, along.ravel().astype(np.float64)).reshape(along.shape).astype(np.float32)
        low = _curve(low_u, low_v, along.ravel().astype(np.float64)).reshape(along.shape).astype(np.float32)
        inside = np.clip(along, 0, 1)
        # The lid skin that slides down starts below the brow: the brow itself never moves.
        brow_u, brow_v = local(points[brow])
        room = lid - _curve(brow_u, brow_v, along.ravel().astype(np.float64)).reshape(along.shape).astype(
            np.float32
        )
        height = np.minimum(0.3 * width, 0.5 * np.maximum(room, 2.0))
        crease = lid - height * (0.3 + 0.7 * np.clip(np.sin(np.pi * inside), 0, 1) ** 0.7)
        margin = int(0.15 * self.eye_distance) + 3
        height, width_px = self.grid_x.shape
        reach = (
            max(0, x0 - margin),
            max(0, y0 - margin),
            min(width_px, x1 + margin),
            min(height, y1 + margin),
        )
        return _Eye(
            (x0, y0, x1, y1),
            along,
            across,
            lid,
            low,
            crease.astype(np.float32),
            (float(down[0]), float(down[1])),
            reach,
        )

    # -- frames ------------------------------------------------------------------------------

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]:
        """One warped frame per mouth shape and pose."""
        frame = np.empty_like(self.base)
        for mouth, pose in zip(mouths, poses, strict=True):
            np.copyto(frame, self.base)
            self._draw(frame, float(mouth[0]), float(mouth[1]), pose)
            yield frame

    def _draw(self, frame: NDArray[np.uint8], opening: float, width: float, pose: Pose) -> None:
        import cv2

        drop = JAW_DROP * float(np.clip(opening, 0, 1))
        spread = CORNER_SPREAD * (float(np.clip(width, 0, 1)) - 0.5)
        blink = float(np.clip(pose.blink, 0, 1))
        head_x, head_y = self._head_inverse(pose)
        left, top, right, bottom = self.roi
        map_x, map_y = head_x.copy(), head_y.copy()
        if drop > 0.01 or abs(spread) > 0.005:
            # Invert the mouth's forward field: source = head - field(source), by fixed-point steps.
            x0, y0, x1, y1 = self.mouth_box
            field = self.field
            np.multiply(self.drop_field, drop, out=field)
            field += self.spread_field * spread
            box_x, box_y = head_x[y0:y1, x0:x1], head_y[y0:y1, x0:x1]
            source_x, source_y = box_x, box_y
            for _ in range(INVERSE_STEPS):
                sampled = cv2.remap(
                    field,
                    source_x - (left + x0),
                    source_y - (top + y0),
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                )
                source_x = box_x - sampled[..., 0]
                source_y = box_y - sampled[..., 1]
            map_x[y0:y1, x0:x1] = source_x
            map_y[y0:y1, x0:x1] = source_y
        if blink > 0.02:
            for eye in self._eyes:
                self._blink(map_x, map_y, head_x, head_y, eye, blink)
        region = np.asarray(
            cv2.remap(self.base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
            dtype=np.uint8,
        )
        if drop > 0.01:
            self._interior(region, head_x, head_y, drop, spread)
        frame[top:bottom, left:right] = region

    def _head_inverse(self, pose: Pose) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Backward map of the head sway: where each pixel of the region comes from before it.

        The sway's offsets are smooth, so they are computed on a coarse grid and enlarged.
        """
        import cv2

        angle = math.radians(pose.angle)
        cos, sin = math.cos(angle), math.sin(angle)
        pivot_x, pivot_y = float(self.pivot[0]), float(self.pivot[1])
        xs, ys = self.coarse_x, self.coarse_y
        rel_x = xs - (pivot_x + pose.dx * self.eye_distance * 2)
        rel_y = ys - (pivot_y + pose.dy * self.eye_distance * 2)
        offset_x = self.coarse_weight * (cos * rel_x + sin * rel_y + pivot_x - xs)
        offset_y = self.coarse_weight * (-sin * rel_x + cos * rel_y + pivot_y - ys)
        size = (self.grid_x.shape[1], self.grid_x.shape[0])
        map_x = self.grid_x + cv2.resize(offset_x, size, interpolation=cv2.INTER_LINEAR)
        map_y = self.grid_y + cv2.resize(offset_y, size, interpolation=cv2.INTER_LINEAR)
        return map_x, map_y

    def _blink(
        self,
        map_x: NDArray[np.float32],
        map_y: NDArray[np.float32],
        head_x: NDArray[np.float32],
        head_y: NDArray[np.float32],
        eye: _Eye,
        blink: float,
    ) -> None:
        """Fold the upper lid's skin down `blink` of the way to the lower lid (backward offsets)."""
        import cv2

        x0, y0, x1, y1 = eye.box
        edge = eye.lid + blink * (eye.lower - eye.lid)
        v = eye.across
        stretch = (eye.lid - eye.crease) / np.maximum(edge - eye.crease, 1e-3)
        source = eye.crease + (v - eye.crease) * stretch
        inside = (v >= eye.crease) & (v <= edge) & (eye.along >= 0) & (eye.along <= 1)
        offset = np.where(inside, source - v, 0).astype(np.float32)
        # The offsets live on the photo's eye; each output pixel reads them where the sway puts it.
        dx0, dy0, dx1, dy1 = eye.reach
        left, top, _, _ = self.roi
        sampled = cv2.remap(
            offset,
            head_x[dy0:dy1, dx0:dx1] - (left + x0),
            head_y[dy0:dy1, dx0:dx1] - (top + y0),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        map_x[dy0:dy1, dx0:dx1] += sampled * eye.down[0]
        map_y[dy0:dy1, dx0:dx1] += sampled * eye.down[1]

    def _interior(
        self,
        region: NDArray[np.uint8],
        head_x: NDArray[np.float32],
        head_y: NDArray[np.float32],
        drop: float,
        spread: float,
    ) -> None:
        """Draw the mouth's interior between the parted lips (in place, anti-aliased)."""
        left, top, _, _ = self.roi
        within = np.abs(self.grid_s) <= 1
        pixel = 1.0 / self.half_width
        lowest = float(self.seam[within].max()) + drop + 3 * pixel
        highest = float(self.seam[within].min()) - UPPER_LIP_LIFT * drop - 3 * pixel
        # The sway moves the mouth by a few pixels: find where its centre went.
        centre_x, centre_y = int(self.origin[0]) - left, int(self.origin[1]) - top
        shift_x = float(head_x[centre_y, centre_x]) - self.origin[0]
        shift_y = float(head_y[centre_y, centre_x]) - self.origin[1]
        corners = [
            self.origin + self.half_width * (s * self.across * (1 + max(spread, 0)) + t * self.down)
            for s in (-1.05, 1.05) for t in (highest, lowest)
        ]  # fmt: skip
        xs = [c[0] - left - shift_x for c in corners]
        ys = [c[1] - top - shift_y for c in corners]
        x0, x1 = int(max(0, min(xs) - 3)), int(min(region.shape[1], max(xs) + 4))
        y0, y1 = int(max(0, min(ys) - 3)), int(min(region.shape[0], max(ys) + 4))
        if x1 <= x0 or y1 <= y0:
            return
        ox = head_x[y0:y1, x0:x1] - np.float32(self.origin[0])
        oy = head_y[y0:y1, x0:x1] - np.float32(self.origin[1])
        s_box = ox * np.float32(self.across[0] / self.half_width) + oy * np.float32(
            self.across[1] / self.half_width
        )
        t_box = ox * np.float32(self.down[0] / self.half_width) + oy * np.float32(
            self.down[1] / self.half_width
        )
        s0_box = s_box / np.float32(1 + spread)
        # Cheap first pass: only pixels between the moved lips are coloured.
        seam_box = np.interp(s0_box, self.grid_s, self.seam).astype(np.float32)
        candidate = (
            (np.abs(s0_box) < 1)
            & (t_box > seam_box - UPPER_LIP_LIFT * drop - 2 * pixel)
            & (t_box < seam_box + drop + 2 * pixel)
        )
        if not candidate.any():
            return
        s0, t, seam = s0_box[candidate], t_box[candidate], seam_box[candidate]
        lips = np.sqrt(np.clip(1 - s0 * s0, 0, 1))
        upper = seam - UPPER_LIP_LIFT * drop * lips
        lower = seam + drop * lips
        alpha = np.clip((t - upper) / pixel, 0, 1) * np.clip((lower - t) / pixel, 0, 1)
        gap = np.maximum(lower - upper, 1e-3)
        depth = np.clip((t - upper) / gap, 0, 1)  # 0 at the upper lip, 1 at the lower
        side = np.abs(s0)
        shade = (0.45 + 0.55 * (1 - side**2)) * (0.75 + 0.25 * np.sin(np.pi * depth))
        colour = self.cavity_colour[None, :] * shade[:, None]
        # Tongue: on wide openings, a rounded shape rising from behind the lower teeth.
        tongue_top = lower - 0.45 * gap * _smoothstep(0.25, 0.6, gap)
        tongue = np.clip((t - tongue_top) / (2 * pixel), 0, 1) * (1 - _smoothstep(0.45, 0.8, side))
        tongue_shade = 0.55 + 0.45 * (1 - side / 0.8).clip(0, 1) * np.clip(
            (t - tongue_top) / np.maximum(0.25 * gap, pixel), 0, 1
        )
        colour += (self.tongue_colour[None, :] * tongue_shade[:, None] - colour) * (tongue * 0.9)[..., None]
        teeth_amount = 0.0 if self.teeth_shown else 1.0
        if teeth_amount > 0:
            # Upper teeth hang from under the upper lip: a band at most a fifth of the mouth's half
            # width deep, darker towards the corners and in the lip's shadow at the top.
            depth_px = np.minimum(0.5 * gap, 0.2)
            below_lip = t - upper
            band = np.clip((upper + depth_px - t) / pixel, 0, 1) * (1 - _smoothstep(0.55, 0.8, side))
            light = (1 - 0.55 * (side / 0.8) ** 2) * (
                0.72
                + 0.28 * _smoothstep(0.0, 0.45, (below_lip / np.maximum(depth_px, 1e-3)).astype(np.float32))
            )
            # Faint gaps between the front teeth.
            light = light * (1 - 0.18 * np.exp(-(((s0 - 0.0) / (0.6 * pixel + 0.015)) ** 2)))
            for edge_s in (-0.27, 0.27, -0.5, 0.5):
                light = light * (1 - 0.12 * np.exp(-(((s0 - edge_s) / (0.6 * pixel + 0.015)) ** 2)))
            colour += (self.teeth_colour[None, :] * light[:, None] - colour) * (band * teeth_amount)[
                ..., None
            ]
            # Lower teeth: on wide openings only, the tips of the front ones just above the lower
            # lip, in shadow (a bright rim along the whole lip looks drawn).
            lower_depth = np.clip(0.2 * gap - 0.1, 0, 0.05)
            lower_band = (
                np.clip((t - (lower - lower_depth)) / pixel, 0, 1)
                * (1 - _smoothstep(0.25, 0.45, side))
                * (lower_depth > 0)
            )
            colour += (self.teeth_colour[None, :] * 0.6 - colour) * lower_band[:, None]
        patch = region[y0:y1, x0:x1]
        pixels = patch[candidate].astype(np.float32)
        pixels += (colour - pixels) * alpha[:, None]
        patch[candidate] = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
