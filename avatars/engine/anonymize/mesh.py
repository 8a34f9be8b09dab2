"""The 468-point face mesh (MediaPipe's `face_landmark` model): crop, run, and read expression.

The model sees a 192x192 upright crop of 1.5x the face, rotated so the eyes are level (from a
detection's eye keypoints, or from the previous frame's mesh, which is how the mesh tracks a face
between detections). It returns x, y and a relative depth z for 468 points in crop pixels, and a
face-presence logit. From the points we read what a synthetic face needs to copy: head rotation
(a 3x3 matrix), mouth opening and width, each eye's openness and brow height. None of those
numbers is identifying on its own; the points themselves are never drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.detect import LEFT_EYE, RIGHT_EYE, Detection
from avatars.engine.anonymize.models import FACE_MESH, load

#: Mesh indices used below (the person's right is the image's left in a frontal view).
FOREHEAD, CHIN = 10, 152
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 33, 133, 362, 263
RIGHT_LID_UP, RIGHT_LID_DOWN, LEFT_LID_UP, LEFT_LID_DOWN = 159, 145, 386, 374
LIP_INNER_UP, LIP_INNER_DOWN, MOUTH_RIGHT, MOUTH_LEFT = 13, 14, 61, 291
RIGHT_BROW, LEFT_BROW = 105, 334
NOSE_TIP = 1
#: The face's outline, in order around it (forehead, the person's left side, chin, right side).
FACE_OVAL = np.array(
    [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
     152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
)  # fmt: skip

#: A crop covers this many face sizes (MediaPipe's own ROI scale).
ROI_SCALE = 1.5
#: Face-presence probability below which the mesh is taken to have lost the face.
PRESENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Roi:
    """A rotated square in frame pixels: centre, side and rotation (radians, eyes level at 0)."""

    center: tuple[float, float]
    size: float
    angle: float

    def to_frame(self, crop_size: int) -> NDArray[np.float64]:
        """2x3 affine matrix taking crop pixels to frame pixels."""
        scale = self.size / crop_size
        cos, sin = math.cos(self.angle) * scale, math.sin(self.angle) * scale
        half = crop_size / 2
        cx, cy = self.center
        return np.array([[cos, -sin, cx - cos * half + sin * half], [sin, cos, cy - sin * half - cos * half]])


def roi_from_detection(detection: Detection) -> Roi:
    """The mesh crop for a fresh detection: its box, eyes level, 1.5x its longer side."""
    eyes = detection.keypoints[LEFT_EYE] - detection.keypoints[RIGHT_EYE]
    x0, y0, x1, y1 = detection.box
    return Roi(
        ((x0 + x1) / 2, (y0 + y1) / 2),
        max(x1 - x0, y1 - y0) * ROI_SCALE,
        math.atan2(eyes[1], eyes[0]),
    )


def roi_from_points(points: NDArray[np.float64]) -> Roi:
    """The next frame's crop from this frame's mesh: the points' upright bounding square x 1.5."""
    eyes = points[LEFT_EYE_OUTER, :2] - points[RIGHT_EYE_OUTER, :2]
    angle = math.atan2(eyes[1], eyes[0])
    cos, sin = math.cos(angle), math.sin(angle)
    xy = points[:, :2]
    # Coordinates along the face's own axes, so the square follows a tilted head.
    u = xy[:, 0] * cos + xy[:, 1] * sin
    v = -xy[:, 0] * sin + xy[:, 1] * cos
    cu, cv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    size = max(u.max() - u.min(), v.max() - v.min()) * ROI_SCALE
    return Roi((cu * cos - cv * sin, cu * sin + cv * cos), size, angle)


@dataclass(frozen=True)
class MeshResult:
    """The mesh in frame pixels (468 x 3; z in the same pixel scale) and the face-presence score."""

    points: NDArray[np.float64]
    presence: float


def run_mesh(rgb: NDArray[np.uint8], roi: Roi, *, half: NDArray[np.uint8] | None = None) -> MeshResult:
    """Run the mesh on the crop `roi` of a frame.

    `half` (the frame at half size), when given, is used for big faces: sampling it aliases less
    than sampling the full frame at a large step, and costs the same.
    """
    model = load(FACE_MESH)
    size = model.size
    to_frame = roi.to_frame(size)
    source, source_scale = rgb, 1.0
    if half is not None and roi.size / size >= 2.0:
        source, source_scale = half, rgb.shape[1] / half.shape[1]
    to_source = to_frame.copy()
    to_source /= source_scale
    crop = cv2.warpAffine(
        source,
        to_source,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    landmarks, flag = model.run(crop.astype(np.float32) * (1 / 255.0))
    local = landmarks.reshape(-1, 3).astype(np.float64)
    points = np.empty_like(local)
    points[:, :2] = local[:, :2] @ to_frame[:, :2].T + to_frame[:, 2]
    points[:, 2] = local[:, 2] * (roi.size / size)
    presence = 1.0 / (1.0 + math.exp(-float(np.clip(flag.reshape(-1)[0], -80, 80))))
    return MeshResult(points, presence)


@dataclass(frozen=True)
class Expression:
    """What the synthetic face copies from one frame of a real one.

    `rotation` has the head's right, down and backward axes as columns (image x right, y down, z
    away from the camera); `origin` is the middle of the forehead-chin line and `unit` half its
    length, in frame pixels. Openness values are 0 (closed) to 1 (wide open).
    """

    origin: NDArray[np.float64]
    unit: float
    rotation: NDArray[np.float64]
    mouth_open: float
    mouth_width: float
    eye_open: tuple[float, float]  # the person's right, left
    brow_raise: float


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def expression_from_points(points: NDArray[np.float64]) -> Expression:
    """Read pose and expression from a mesh in frame pixels."""
    forehead, chin = points[FOREHEAD], points[CHIN]
    down = chin - forehead
    height = float(np.linalg.norm(down))
    right = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    eye_span = float(np.linalg.norm(right))
    x_axis = right / max(eye_span, 1e-6)
    y_axis = down - x_axis * float(x_axis @ down)
    y_axis /= max(float(np.linalg.norm(y_axis)), 1e-6)
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)

    def span(a: int, b: int) -> float:
        return float(np.linalg.norm(points[a] - points[b]))

    right_open = span(RIGHT_LID_UP, RIGHT_LID_DOWN) / max(span(RIGHT_EYE_OUTER, RIGHT_EYE_INNER), 1e-6)
    left_open = span(LEFT_LID_UP, LEFT_LID_DOWN) / max(span(LEFT_EYE_OUTER, LEFT_EYE_INNER), 1e-6)
    brows = (span(RIGHT_BROW, RIGHT_LID_UP) + span(LEFT_BROW, LEFT_LID_UP)) / 2 / max(height, 1e-6)
    return Expression(
        origin=(forehead + chin) / 2,
        unit=height / 2,
        rotation=rotation,
        mouth_open=_clip(span(LIP_INNER_UP, LIP_INNER_DOWN) / max(height, 1e-6) / 0.13),
        mouth_width=_clip((span(MOUTH_RIGHT, MOUTH_LEFT) / max(eye_span, 1e-6) - 0.45) / 0.35),
        eye_open=(_clip((right_open - 0.08) / 0.22), _clip((left_open - 0.08) / 0.22)),
        brow_raise=_clip((brows - 0.07) / 0.08),
    )


def expression_from_detection(detection: Detection) -> Expression:
    """A neutral expression posed from a detection alone (when the mesh cannot see the face)."""
    keypoints = detection.keypoints
    eyes = keypoints[LEFT_EYE] - keypoints[RIGHT_EYE]
    roll = math.atan2(eyes[1], eyes[0])
    eye_span = max(float(np.linalg.norm(eyes)), 1e-6)
    # The nose tip's sideways offset from between the eyes says roughly how far the head is turned.
    middle = (keypoints[LEFT_EYE] + keypoints[RIGHT_EYE]) / 2
    offset = (keypoints[2] - middle) @ (eyes / eye_span) / eye_span
    yaw = math.asin(_clip(abs(offset) / 0.9)) * (1 if offset > 0 else -1)
    cos_r, sin_r, cos_y, sin_y = math.cos(roll), math.sin(roll), math.cos(yaw), math.sin(yaw)
    roll_matrix = np.array([[cos_r, -sin_r, 0], [sin_r, cos_r, 0], [0, 0, 1]])
    yaw_matrix = np.array([[cos_y, 0, -sin_y], [0, 1, 0], [sin_y, 0, cos_y]])
    x0, y0, x1, y1 = detection.box
    height = y1 - y0
    return Expression(
        origin=np.array([(x0 + x1) / 2, y0 + 0.42 * height, 0.0]),
        unit=0.62 * height,
        rotation=roll_matrix @ yaw_matrix,
        mouth_open=0.0,
        mouth_width=0.4,
        eye_open=(1.0, 1.0),
        brow_raise=0.3,
    )
