"""Portrait mode: one consented photo, animated by landmark-driven warping.

The face's 5 landmarks (eye corners, nose base) give its scale and orientation; the lip line is
found as the darkest row below the nose. Each frame is one `cv2.remap` of the head region whose
displacement field is a weighted sum of a few precomputed fields: the jaw and lower lip drop with
the mouth opening, the upper lip lifts a little, the mouth corners spread or purse, and the whole
head sways about the neck. The mouth cavity that opens between the lips is painted (dark interior,
a hint of teeth), and blinks paint the eyelid with skin colour sampled above each eye.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
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
from avatars.engine.errors import EnrollmentError
from avatars.engine.media import read_image
from avatars.engine.motion import Pose
from core.media.faces import Face, detect_faces

#: Jaw drop at full opening, in eye distances (outer corners); about what a wide "ah" shows.
JAW_DROP = 0.2
UPPER_LIP_LIFT = 0.03
CORNER_SPREAD = 0.1
#: Share of the mouth band that may look like teeth: a closed-mouth photo shows none (the stock
#: presenter: 0%), a broad smile about 10%.
MAX_TEETH_SHARE = 0.03


def _smoothstep(edge0: float, edge1: float, value: NDArray[np.float32]) -> NDArray[np.float32]:
    ratio = np.clip((value - edge0) / (edge1 - edge0), 0.0, 1.0)
    result: NDArray[np.float32] = (ratio * ratio * (3 - 2 * ratio)).astype(np.float32)
    return result


def check_photo(name: str, rgb: NDArray[np.uint8], faces: list[Face]) -> Face:
    """Quality checks for a portrait photo; returns its one face or raises `EnrollmentError`."""
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
    if _teeth_share(rgb, face) > MAX_TEETH_SHARE:
        raise EnrollmentError(
            f"Your mouth is open or smiling widely in '{name}'. Use a photo with a relaxed face and lips closed: "
            "the animation opens the mouth itself.",
            code="mouth_open",
        )
    return face


def _teeth_share(rgb: NDArray[np.uint8], face: Face) -> float:
    # Teeth are bright and nearly colourless; skin and lips are not. Measured in the band where the
    # mouth sits below the nose.
    distance = face.eye_distance
    nose = face.points[4]
    left, right = int(nose[0] - 0.35 * distance), int(nose[0] + 0.35 * distance)
    top, bottom = int(nose[1] + 0.15 * distance), int(nose[1] + 0.75 * distance)
    region = rgb[max(0, top) : max(0, bottom), max(0, left) : max(0, right)].astype(np.float32)
    if region.size == 0:
        return 0.0
    brightness = region.mean(axis=2)
    colourfulness = region.max(axis=2) - region.min(axis=2)
    teeth = (brightness > 170) & (colourfulness < 0.25 * brightness)
    return float(teeth.mean())


class PortraitSource:
    """Frames of portrait mode for one photo, at the render's output size."""

    def __init__(self, photo: Path, width: int, height: int) -> None:
        rgb = read_image(photo)
        faces = detect_faces(rgb, thorough=True)
        face = check_photo(photo.name, rgb, faces)
        self.width, self.height = width, height
        self.base, points = self._fit(rgb, face)
        self._prepare(points)

    def _fit(self, rgb: NDArray[np.uint8], face: Face) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """Place the photo in the output frame: fit its height, centre on the face, blur-fill the sides."""
        import cv2

        scale = self.height / rgb.shape[0]
        resized = cv2.resize(
            rgb,
            (max(1, round(rgb.shape[1] * scale)), self.height),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        )
        points = face.points * scale
        face_x = float(points[:4, 0].mean())
        canvas = np.empty((self.height, self.width, 3), dtype=np.uint8)
        if resized.shape[1] < self.width:
            backdrop = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
            canvas[...] = (cv2.GaussianBlur(backdrop, (0, 0), self.width / 40) * 0.6).astype(np.uint8)
            offset = (self.width - resized.shape[1]) // 2
            canvas[:, offset : offset + resized.shape[1]] = resized
            points = points + [offset, 0]
        else:
            left = int(np.clip(face_x - self.width / 2, 0, resized.shape[1] - self.width))
            canvas[...] = resized[:, left : left + self.width]
            points = points - [left, 0]
        return canvas, points

    def _prepare(self, points: NDArray[np.float64]) -> None:
        eye_right, eye_left = points[:2].mean(axis=0), points[2:4].mean(axis=0)
        across = eye_right - eye_left
        self.eye_distance = float(np.linalg.norm(points[0] - points[2]))
        unit_across = across / max(float(np.linalg.norm(across)), 1e-6)
        down = np.array([-unit_across[1], unit_across[0]])
        if down[1] < 0:
            down = -down
        self.across, self.down = unit_across, down
        self.angle = math.degrees(math.atan2(unit_across[1], unit_across[0]))
        self.mouth = self._find_lip_line(points[4], down)
        distance = self.eye_distance
        self.mouth_half_width = 0.36 * distance
        chin = self.mouth + down * 0.6 * distance
        centre = (eye_right + eye_left) / 2 * 0.5 + chin * 0.5
        radius = 1.25 * distance
        # Work only inside the head's bounding box: displacements are zero elsewhere.
        left = int(max(0, centre[0] - radius * 1.3))
        right = int(min(self.width, centre[0] + radius * 1.3))
        top = int(max(0, centre[1] - radius * 1.6))
        bottom = int(min(self.height, centre[1] + radius * 1.6))
        self.roi = (left, top, right, bottom)
        ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32)
        self.grid_x, self.grid_y = xs, ys
        # Face-aligned coordinates of each pixel around the mouth, in eye distances.
        rel_x, rel_y = xs - self.mouth[0], ys - self.mouth[1]
        s = (rel_x * unit_across[0] + rel_y * unit_across[1]) / distance
        t = (rel_x * down[0] + rel_y * down[1]) / distance
        # Narrower than the face, so the jaw outline and the background beside it never move: a wider
        # field dragged background pixels into the cheeks.
        sideways = np.exp(-((s / 0.4) ** 4)).astype(np.float32)
        self.jaw_weight = (_smoothstep(-0.01, 0.04, t) * (1 - _smoothstep(0.55, 0.95, t)) * sideways).astype(
            np.float32
        )
        self.lip_weight = (
            np.exp(-((np.minimum(t, 0) / 0.08) ** 2)) * (t < 0) * np.exp(-((s / 0.4) ** 4))
        ).astype(np.float32)
        self.corner_weight = (
            np.sign(s) * np.exp(-(((np.abs(s) - 0.36) / 0.18) ** 2)) * np.exp(-((t / 0.12) ** 2))
        ).astype(np.float32)
        head_s = (xs - centre[0]) / (radius * 1.05)
        head_t = (ys - centre[1]) / (radius * 1.45)
        self.head_weight = (1 - _smoothstep(0.85, 1.15, np.sqrt(head_s**2 + head_t**2))).astype(np.float32)
        self.pivot = chin + down * 0.5 * distance
        self.eyes = [
            (eye_right, float(np.linalg.norm(points[0] - points[1]))),
            (eye_left, float(np.linalg.norm(points[2] - points[3]))),
        ]
        self.lid_colours = [
            self._sample(centre_point - down * 0.22 * distance) for centre_point, _ in self.eyes
        ]
        self.cavity_colour = np.array([52.0, 22.0, 26.0])

    def _find_lip_line(self, nose: NDArray[np.float64], down: NDArray[np.float64]) -> NDArray[np.float64]:
        # The lip line is the darkest short horizontal strip between 0.25 and 0.65 eye distances
        # below the nose base (the shadow where the lips meet).
        gray = self.base.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        best, best_value = 0.42, float("inf")
        for step in np.linspace(0.25, 0.65, 21):
            centre = nose + down * step * self.eye_distance
            x, y = int(round(centre[0])), int(round(centre[1]))
            half = max(2, int(0.15 * self.eye_distance))
            if not (0 <= y < self.height and half <= x < self.width - half):
                continue
            value = float(gray[y, x - half : x + half].mean())
            if value < best_value:
                best, best_value = float(step), value
        return nose + down * best * self.eye_distance

    def _sample(self, point: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = int(np.clip(point[0], 2, self.width - 3)), int(np.clip(point[1], 2, self.height - 3))
        patch = self.base[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3)
        return np.asarray(patch.mean(axis=0), dtype=np.float64)

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]:
        """One warped frame per mouth shape and pose."""
        frame = np.empty_like(self.base)
        for mouth, pose in zip(mouths, poses, strict=True):
            np.copyto(frame, self.base)
            self._draw(frame, float(mouth[0]), float(mouth[1]), pose)
            yield frame

    def _draw(self, frame: NDArray[np.uint8], opening: float, width: float, pose: Pose) -> None:
        import cv2

        distance = self.eye_distance
        opening = float(np.clip(opening, 0, 1))
        drop = JAW_DROP * distance * opening
        lift = UPPER_LIP_LIFT * distance * opening
        spread = CORNER_SPREAD * distance * (float(np.clip(width, 0, 1)) - 0.5)
        # Backward map: each output pixel samples the photo where that point came from. Plain floats
        # keep the arithmetic in float32 (NumPy scalars would promote it to float64).
        down_x, down_y = float(self.down[0]), float(self.down[1])
        across_x, across_y = float(self.across[0]), float(self.across[1])
        vertical = drop * self.jaw_weight - lift * self.lip_weight
        corners = spread * self.corner_weight
        map_x = self.grid_x - down_x * vertical - across_x * corners
        map_y = self.grid_y - down_y * vertical - across_y * corners
        angle = math.radians(pose.angle)
        cos, sin = math.cos(angle), math.sin(angle)
        pivot_x, pivot_y = float(self.pivot[0]), float(self.pivot[1])
        rel_x = map_x - (pivot_x + pose.dx * distance * 2)
        rel_y = map_y - (pivot_y + pose.dy * distance * 2)
        rotated_x = cos * rel_x + sin * rel_y + pivot_x
        rotated_y = -sin * rel_x + cos * rel_y + pivot_y
        map_x = map_x + self.head_weight * (rotated_x - map_x)
        map_y = map_y + self.head_weight * (rotated_y - map_y)
        left, top, right, bottom = self.roi
        frame[top:bottom, left:right] = cv2.remap(
            self.base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        where = self._moved(self.mouth, pose)
        gap = drop + lift
        if gap > 1.0:
            self._paint_ellipse(
                frame,
                where + self.down * (drop - lift) / 2,
                (self.mouth_half_width * (0.8 + 0.4 * (width - 0.5)), gap / 2),
                self.cavity_colour,
                0.92,
            )
            teeth = where - self.down * (lift - min(gap, 0.06 * distance) * 0.35)
            self._paint_ellipse(
                frame,
                teeth,
                (self.mouth_half_width * 0.6, min(gap, 0.06 * distance) * 0.3),
                np.array([225.0, 222.0, 214.0]),
                0.55,
            )
        if pose.blink > 0.05:
            for (centre, eye_width), colour in zip(self.eyes, self.lid_colours, strict=True):
                point = self._moved(centre, pose)
                self._paint_ellipse(
                    frame, point, (eye_width * 0.85, eye_width * 0.42), colour, min(1.0, pose.blink * 1.2)
                )
                self._paint_ellipse(
                    frame,
                    point + self.down * eye_width * 0.2,
                    (eye_width * 0.8, max(1.0, eye_width * 0.05)),
                    np.array([60.0, 45.0, 40.0]),
                    pose.blink,
                )

    def _moved(self, point: NDArray[np.float64], pose: Pose) -> NDArray[np.float64]:
        # Forward version of the head sway, to place painted features where the warp moved them.
        angle = math.radians(pose.angle)
        cos, sin = math.cos(angle), math.sin(angle)
        rel = point - self.pivot
        turned = np.array([cos * rel[0] - sin * rel[1], sin * rel[0] + cos * rel[1]]) + self.pivot
        return turned + np.array([pose.dx, pose.dy]) * self.eye_distance * 2

    def _paint_ellipse(
        self,
        frame: NDArray[np.uint8],
        centre: NDArray[np.float64],
        axes: tuple[float, float],
        colour: NDArray[np.float64],
        opacity: float,
    ) -> None:
        import cv2

        half_x, half_y = max(axes[0], 1.0), max(axes[1], 0.5)
        reach = int(math.ceil(max(half_x, half_y))) + 3
        x0, y0 = int(centre[0]) - reach, int(centre[1]) - reach
        x1, y1 = x0 + 2 * reach + 1, y0 + 2 * reach + 1
        if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
            return
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
        local = (int(round((centre[0] - x0) * 16)), int(round((centre[1] - y0) * 16)))
        cv2.ellipse(
            mask, local, (int(half_x * 16), int(half_y * 16)), self.angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4
        )
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, half_y * 0.25))[..., None] * opacity
        region = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = (region + mask * (colour.astype(np.float32) - region) + 0.5).astype(np.uint8)
