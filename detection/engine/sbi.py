"""Self-blended images (SBI): fake faces made from one real face, for training the forgery model.

A face swap pastes a generated or foreign face into a real frame; what betrays it is the paste
itself (a blending edge, a colour or sharpness mismatch, a slight misalignment), far more than
who the face belongs to. A self-blended image reproduces exactly those traces from a single real
crop: a copy of the face is recoloured, resharpened or blurred, shifted and rescaled a little,
and blended back into the original through a soft, irregular mask around the inner face. The
model learns the traces, not identities, so it never needs a deepfake to train on (after
Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022; this is our own
implementation with the product's 5-point landmarks and an ellipse mask).

Everything here is numpy/OpenCV and seeded by the caller's `numpy.random.Generator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class RealFace:
    """A real face crop (RGB uint8, a generous margin around the face) with its geometry in crop pixels."""

    image: NDArray[np.uint8]
    points: NDArray[np.float64]  # dlib's 5 points: right-eye outer, inner; left-eye outer, inner; nose
    box: tuple[float, float, float, float]  # the detector's face box


def blend_mask(face: RealFace, rng: np.random.Generator) -> NDArray[np.float32]:
    """A soft, irregular mask over the inner face (eyes, nose, mouth), values in [0, 1]."""
    import cv2

    height, width = face.image.shape[:2]
    points = face.points
    eyes = points[:4].mean(axis=0)
    eye_distance = float(np.linalg.norm(points[0] - points[2]))
    roll = math.degrees(math.atan2(points[0, 1] - points[2, 1], points[0, 0] - points[2, 0]))
    centre = eyes + (points[4] - eyes) * rng.uniform(0.7, 1.3)
    axes = (eye_distance * rng.uniform(0.65, 1.0), eye_distance * rng.uniform(0.9, 1.4))
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(
        mask,
        (round(centre[0]), round(centre[1])),
        (max(2, round(axes[0])), max(2, round(axes[1]))),
        roll + rng.uniform(-12, 12),
        0,
        360,
        1.0,
        -1,
    )
    # Irregular outline: displace the mask by a smooth random field (a real mask follows a face
    # outline or a segmentation, never a perfect ellipse).
    grid = rng.normal(0, 1, (2, 5, 5)).astype(np.float32) * eye_distance * rng.uniform(0.03, 0.12)
    flow_x = cv2.resize(grid[0], (width, height), interpolation=cv2.INTER_CUBIC)
    flow_y = cv2.resize(grid[1], (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = np.asarray(
        cv2.remap(mask, xx + flow_x, yy + flow_y, cv2.INTER_LINEAR, borderValue=0.0), dtype=np.float32
    )
    kernel = max(1, int(eye_distance * rng.uniform(0.02, 0.12)))
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * kernel + 1, 2 * kernel + 1))
    mask = np.asarray(
        cv2.erode(mask, element) if rng.random() < 0.5 else cv2.dilate(mask, element), dtype=np.float32
    )
    sigma = eye_distance * rng.uniform(0.03, 0.25)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), max(sigma, 0.5)), dtype=np.float32)
    peak = float(mask.max())
    return np.asarray(mask / peak if peak > 0 else mask, dtype=np.float32)


def colour_jitter(image: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Channel gains and offsets, a hue/saturation change and a contrast change."""
    import cv2

    out = image * rng.uniform(0.85, 1.15, 3).astype(np.float32) + rng.uniform(-20, 20, 3).astype(np.float32)
    if rng.random() < 0.5:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 180
        hsv[..., 1] *= rng.uniform(0.75, 1.25)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    contrast = rng.uniform(0.85, 1.15)
    return np.asarray((out - out.mean()) * contrast + out.mean(), dtype=np.float32)


def frequency_jitter(image: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Softer, resampled or sharpened: the texture of another camera, codec or generator."""
    import cv2

    choice = rng.integers(3)
    if choice == 0:  # softer: a generator's output is usually smoother than camera texture
        return np.asarray(cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 2.0)), dtype=np.float32)
    if choice == 1:  # resampled: rendered at a lower resolution and scaled up
        height, width = image.shape[:2]
        factor = rng.uniform(0.3, 0.7)
        small = cv2.resize(
            image, (max(4, int(width * factor)), max(4, int(height * factor))), interpolation=cv2.INTER_AREA
        )
        return np.asarray(
            cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
        )
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)  # sharpened
    return np.asarray(image + rng.uniform(0.3, 1.2) * (image - blurred), dtype=np.float32)


def _geometric_jitter(
    image: NDArray[np.float32], centre: NDArray[np.float64], size: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    import cv2

    scale = rng.uniform(0.94, 1.06)
    shift = rng.uniform(-0.03, 0.03, 2) * size
    matrix = np.asarray(
        cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), rng.uniform(-3, 3), scale),
        dtype=np.float64,
    )
    matrix[:, 2] += shift
    height, width = image.shape[:2]
    return np.asarray(
        cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
        dtype=np.float32,
    )


def self_blend(face: RealFace, rng: np.random.Generator) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """A self-blended fake of `face` and the blend mask actually used (mask x blend ratio)."""
    image = face.image.astype(np.float32)
    source, target = image.copy(), image.copy()
    # One of the two copies gets the colour and sharpness change, as in the original method; a
    # paste can be darker or lighter, sharper or softer than its surroundings.
    altered = colour_jitter(source, rng) if rng.random() < 0.8 else source
    if rng.random() < 0.7:
        altered = frequency_jitter(altered, rng)
    if rng.random() < 0.5:
        source = altered
    else:
        target, source = altered, source
    eye_distance = float(np.linalg.norm(face.points[0] - face.points[2]))
    source = _geometric_jitter(source, face.points[4], eye_distance, rng)
    ratio = float(rng.choice([0.35, 0.6, 0.8, 1.0, 1.0, 1.0]))
    mask = blend_mask(face, rng) * ratio
    blended = source * mask[..., None] + target * (1 - mask[..., None])
    return np.clip(blended, 0, 255).astype(np.uint8), mask
