"""Faces for the analyzers: detection, 128-d identity embeddings and the manipulation model's crop.

Detection and landmarks are the product's own (`avatars.engine.faces`: dlib HOG and the 5-point
model); embeddings come from the consent statement check's dlib encoder, so an enrolled template
made by either part of the product compares with the other. This module only adapts them: it
loads no model of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.faces import Face, detect_faces
from detection.engine.errors import DetectionInputError

#: The manipulation model sees a square around the face box this many box widths wide: the face
#: with some hair, ears and neck, where a pasted face's edge lies (DFDC crops are framed alike).
CROP_MARGIN = 1.7
CROP_SIZE = 128

__all__ = ["CROP_MARGIN", "CROP_SIZE", "Face", "crop_box", "detect", "embed", "face_crop", "face_templates"]


def detect(rgb: NDArray[np.uint8], *, thorough: bool = False) -> list[Face]:
    """Faces in an RGB picture, largest first (see `avatars.engine.faces.detect_faces`)."""
    return detect_faces(rgb, thorough=thorough)


def embed(rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float64]:
    """The 128-d dlib embedding of one detected face (about 0.13 s on this machine's CPU)."""
    from avatars.engine import statement

    # The statement check owns the one loaded dlib recognition model; reuse it.
    return statement._faces().embed(rgb, face)


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
        region = cv2.copyMakeBorder(region, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    crop = cv2.resize(region, (size, size), interpolation=interpolation)
    return np.asarray(crop, dtype=np.uint8), (left, top, side)
