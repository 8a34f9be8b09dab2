"""Face detection and 5-point landmarks shared by every engine (the studio's, the scanner's, provenance's).

dlib's HOG detector and its 5-point landmark model (eye corners and the base of the nose) ship
with `face-recognition-models` and run offline on a CPU; `core.media.loaders.dlib_faces` loads
them once per process. The 68-point model is deliberately not used here: its training data
excludes commercial use (SPEC §6); mouth geometry is derived from the five points instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.media.loaders.dlib_faces import face_detector

#: Detection runs on frames scaled down to this height (faces in talking-head footage stay far
#: above dlib's ~80 px minimum), which makes it about 4x cheaper at 720p.
DETECTION_HEIGHT = 360

#: The 5 landmarks in face units (outer-eye-corner distance = 1, origin between the eyes), in dlib's
#: order: image-right eye outer, inner; image-left eye outer, inner; base of the nose.
CANONICAL_POINTS = np.array(
    [[0.5, 0.0], [0.22, 0.0], [-0.5, 0.0], [-0.22, 0.0], [0.0, 0.5]], dtype=np.float64
)


@dataclass(frozen=True)
class Face:
    """One detected face: its box (left, top, right, bottom) and 5 landmarks, in frame pixels."""

    box: tuple[int, int, int, int]
    points: NDArray[np.float64]

    @property
    def eye_distance(self) -> float:
        """Distance between the outer eye corners in pixels: the face's scale."""
        return float(np.linalg.norm(self.points[0] - self.points[2]))

    @property
    def turn(self) -> float:
        """Sideways offset of the nose from between the eyes, in eye distances (0 = frontal)."""
        centre = self.points[:4].mean(axis=0)
        return float((self.points[4, 0] - centre[0]) / max(self.eye_distance, 1e-6))


def detect_faces(rgb: NDArray[np.uint8], *, thorough: bool = False) -> list[Face]:
    """All faces in an RGB frame, largest first.

    `thorough` (for single photos, where time matters less than a miss) also searches the full
    resolution and an upsampled pass before giving up.
    """
    # Small frames get one upsampling pass so faces of 40-80 px are still found.
    boxes = _boxes(rgb, DETECTION_HEIGHT, upsample_below=300)
    if not boxes and thorough:
        boxes = _boxes(rgb, rgb.shape[0], upsample_below=1001)
    return _with_landmarks(rgb, boxes)


def detect_faces_at(rgb: NDArray[np.uint8], height: int) -> list[Face]:
    """The faces dlib's detector finds in one pass at `height` rows (no upsampling), largest first;
    landmarks at full resolution."""
    return _with_landmarks(rgb, _boxes(rgb, height))


def _boxes(
    rgb: NDArray[np.uint8], height: int, *, upsample_below: int = 0
) -> list[tuple[int, int, int, int]]:
    """Face boxes (in frame pixels) found at `height` rows; a frame then under `upsample_below` rows
    that shows none is searched again upsampled once."""
    import cv2

    detector = face_detector().detector
    scale = min(1.0, height / rgb.shape[0])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    found = detector(small, 0) or (detector(small, 1) if small.shape[0] < upsample_below else [])
    return [
        (
            int(rect.left() / scale),
            int(rect.top() / scale),
            int(rect.right() / scale),
            int(rect.bottom() / scale),
        )
        for rect in found
    ]


def _with_landmarks(rgb: NDArray[np.uint8], boxes: list[tuple[int, int, int, int]]) -> list[Face]:
    """The 5 landmarks of each box, measured at full resolution; the largest face first."""
    models = face_detector()
    faces: list[Face] = []
    for box in boxes:
        shape = models.landmarks(rgb, models.rectangle(*box))
        points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64)
        faces.append(Face(box=box, points=points))
    faces.sort(key=lambda face: (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]), reverse=True)
    return faces


def similarity_to(points: NDArray[np.float64], target: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares similarity transform (2x3) taking `points` onto `target`."""
    source = points - points.mean(axis=0)
    destination = target - target.mean(axis=0)
    # Complex-number form of the 2D similarity: destination ≈ a * source, a = scale·e^{iθ}.
    s = source[:, 0] + 1j * source[:, 1]
    d = destination[:, 0] + 1j * destination[:, 1]
    a = complex(np.vdot(s, d) / max(float(np.vdot(s, s).real), 1e-12))
    rotation = np.array([[a.real, -a.imag], [a.imag, a.real]])
    offset = target.mean(axis=0) - rotation @ points.mean(axis=0)
    return np.hstack([rotation, offset[:, None]])
