"""Who a tracked face is: dlib's 128-d embedding, sampled on a few frames of each track.

The product's dlib models are reused, not loaded again: HOG detection and the 5-point landmarks
from `core.media.faces`, the recognition model from `core.media.loaders.dlib_faces` (the
same encoder that made the clinician's enrolled template, so distances compare like with like). dlib
also serves as the engine's independent check on its own output: it is a different detector from
the BlazeFace models that find the faces to replace.

The pipeline calls these from two threads (identity samples on the main thread, checks of the
finished frames on the rendering thread); dlib's models are not documented as safe to share
between threads, so every call into them here holds one lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from core.media.faces import Face, detect_faces
from core.media.loaders.dlib_faces import face_encoder

#: Crops are scaled so the face is about this tall: dlib's HOG detector finds faces from ~80 px
#: and its embedding is computed on a 150 px chip, so more resolution would only cost time.
FACE_PIXELS = 120
#: A crop spans this many face sizes, so the HOG window sees the whole head.
CROP_SPAN = 2.2

_dlib = threading.Lock()


def embed(rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float64]:
    """The 128-d embedding of a face found by `detect_faces` (about 0.1 s on one core)."""
    # The one loaded dlib recognition model (the statement check's too).
    with _dlib:
        return face_encoder().embed(np.ascontiguousarray(rgb), face)


def faces_in(rgb: NDArray[np.uint8]) -> list[Face]:
    """The faces dlib's HOG detector finds in a frame (`core.media.faces.detect_faces`)."""
    with _dlib:
        return detect_faces(rgb)


def crop_around(
    rgb: NDArray[np.uint8], box: tuple[float, float, float, float]
) -> tuple[NDArray[np.uint8], tuple[float, float], float]:
    """A square crop around a face box, scaled so the face is about `FACE_PIXELS` tall.

    Returns the crop, its top-left corner in the frame and the scale (crop px per frame px).
    """
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * CROP_SPAN
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, math.floor(cx - side / 2)), max(0, math.floor(cy - side / 2))
    right = min(rgb.shape[1], math.ceil(cx + side / 2))
    bottom = min(rgb.shape[0], math.ceil(cy + side / 2))
    crop = rgb[top:bottom, left:right]
    scale = FACE_PIXELS / max(1.0, max(x1 - x0, y1 - y0))
    if crop.size == 0:
        return crop, (left, top), scale
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return (
        np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)),
        (
            left,
            top,
        ),
        scale,
    )


@dataclass(frozen=True)
class Sample:
    """A face dlib found near a tracked box: its crop box in the frame, the face in crop
    coordinates and the embedding."""

    box: tuple[float, float, float, float]
    face: Face
    embedding: NDArray[np.float64]


def sample_near(rgb: NDArray[np.uint8], box: tuple[float, float, float, float]) -> Sample | None:
    """The face dlib finds closest to the middle of `box`, embedded; None if it finds none."""
    crop, _, _ = crop_around(rgb, box)
    if min(crop.shape[:2], default=0) < 20:
        return None
    faces = faces_in(crop)
    if not faces:
        return None
    middle = np.array(crop.shape[1::-1], dtype=np.float64) / 2
    face = min(faces, key=lambda f: float(np.hypot(*((np.array(f.box[:2]) + f.box[2:]) / 2 - middle))))
    return Sample(box, face, embed(crop, face))


def embed_at(rgb: NDArray[np.uint8], sample: Sample) -> NDArray[np.float64]:
    """The embedding of whatever is now where `sample`'s face was, aligned by its landmarks.

    Used on output frames: it measures how much of the person is left at the very place (and
    in the very alignment) of the original face, whether or not a detector would find a face.
    """
    crop, _, _ = crop_around(rgb, sample.box)
    return embed(crop, sample.face)


def distance(embedding: NDArray[np.float64], others: list[NDArray[np.float64]]) -> float:
    """Smallest Euclidean distance from `embedding` to any of `others` (inf when there are none)."""
    if not others:
        return math.inf
    return float(min(np.linalg.norm(embedding - other) for other in others))
