"""Faces for the analyzers: detection, 128-d identity embeddings and the manipulation model's crop.

Detection and landmarks are the product's own (`core.media.faces`: dlib HOG and the 5-point
model); embeddings come from the same dlib encoder as the consent statement check's
(`core.media.loaders.dlib_faces`), so an enrolled template made by either part of the product
compares with the other. This module only adapts them: it loads no model of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media.faces import DETECTION_HEIGHT, Face, detect_faces, detect_faces_at
from core.media.loaders.dlib_faces import face_encoder
from detection.engine.errors import DetectionInputError

#: The manipulation model sees a square around the face box this many box widths wide: the face
#: with some hair, ears and neck, where a pasted face's edge lies (DFDC crops are framed alike).
CROP_MARGIN = 1.7
CROP_SIZE = 128
#: Second detection scale for large frames: the product's 360-row pass misses faces under about
#: 80 px at that scale, i.e. under 240 px in a 1080p frame (the DFDC videos' faces are 150-250 px).
FINE_HEIGHT = 720
#: Sampled frames that may try the fine scale in vain before a scan stops trying it.
FINE_TRIES = 3

__all__ = [
    "CROP_MARGIN",
    "CROP_SIZE",
    "Face",
    "FaceFinder",
    "crop_box",
    "detect",
    "embed",
    "face_crop",
    "face_templates",
]


def detect(rgb: NDArray[np.uint8], *, thorough: bool = False) -> list[Face]:
    """Faces in an RGB picture, largest first (see `core.media.faces.detect_faces`)."""
    return detect_faces(rgb, thorough=thorough)


@dataclass
class FaceFinder:
    """Face detection over one video's sampled frames, adapting to small faces in large frames.

    Frames are searched at the product's scale first (about 30 ms at 720p). When that finds
    nothing in a frame taller than `FINE_HEIGHT`, the fine scale (about 4x the cost) is tried;
    once it finds a face, the rest of the video is searched at the fine scale only. After
    `FINE_TRIES` fruitless tries it is not tried again (a video without faces stays cheap).
    """

    fine: bool = False
    tries: int = 0

    def find(self, rgb: NDArray[np.uint8]) -> list[Face]:
        """The faces of one sampled frame, largest first."""
        if self.fine:
            return detect_faces_at(rgb, FINE_HEIGHT)
        faces = detect_faces(rgb)
        if faces or rgb.shape[0] <= DETECTION_HEIGHT * 1.5 or self.tries >= FINE_TRIES:
            return faces
        faces = detect_faces_at(rgb, FINE_HEIGHT)
        if faces:
            self.fine = True
        else:
            self.tries += 1
        return faces


def embed(rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float64]:
    """The 128-d dlib embedding of one detected face (about 0.13 s on this machine's CPU)."""
    # The one loaded dlib recognition model (the consent statement check's too).
    return face_encoder().embed(rgb, face)


def face_templates(images: Sequence[Path]) -> list[list[float]]:
    """Enrollment embeddings from photos: the largest face of each photo that has one.

    Raises `DetectionInputError` when no photo shows a face.
    """
    from detection.engine.media import read_image

    templates: list[list[float]] = []
    for path in images:
        rgb = read_image(path)
        faces = detect(rgb, thorough=True)
        if faces:
            templates.append([float(x) for x in embed(rgb, faces[0])])
    if not templates:
        raise DetectionInputError("No face was found in the enrollment photos.", code="no_face")
    return templates


def crop_box(
    face_box: tuple[int, int, int, int], *, margin: float = CROP_MARGIN
) -> tuple[float, float, float]:
    """Centre (x, y) and side of the square crop around a face box."""
    left, top, right, bottom = face_box
    side = margin * max(right - left, bottom - top)
    return (left + right) / 2, (top + bottom) / 2, side


def face_crop(
    rgb: NDArray[np.uint8],
    face_box: tuple[int, int, int, int],
    *,
    size: int = CROP_SIZE,
    margin: float = CROP_MARGIN,
) -> tuple[NDArray[np.uint8], tuple[int, int, int]]:
    """The manipulation model's input: a square crop around the face, resized to `size`.

    Returns the crop and its square in frame pixels (left, top, side). Outside the frame the
    edge pixels are repeated (as a tight crop supplied by someone else looks after padding).
    Area interpolation keeps a large face's fine texture from aliasing when shrunk.
    """
    import cv2

    cx, cy, side_f = crop_box(face_box, margin=margin)
    side = max(int(round(side_f)), 8)
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    height, width = rgb.shape[:2]
    pad_left, pad_top = max(0, -left), max(0, -top)
    pad_right, pad_bottom = max(0, left + side - width), max(0, top + side - height)
    region = rgb[max(0, top) : min(height, top + side), max(0, left) : min(width, left + side)]
    if pad_left or pad_top or pad_right or pad_bottom:
        region = np.asarray(
            cv2.copyMakeBorder(region, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE),
            dtype=np.uint8,
        )
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    crop = cv2.resize(region, (size, size), interpolation=interpolation)
    return np.asarray(crop, dtype=np.uint8), (left, top, side)
