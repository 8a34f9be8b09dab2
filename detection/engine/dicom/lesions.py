"""Injected- and removed-lesion edits in the CT-GAN manner, and the small convolutional classifier
trained on them (train_lesions.py). Measured, and NOT used by the product: trained on 5 shared slices it
does not transfer to unseen ones (BENCHMARKS.md, DICOM section), so no weights ship and no verdict
rests on it.

The edits (`lesion_inject`, `lesion_remove`) blend a region into a window the way CT-GAN's pipeline
does, without its generative model: the region is replaced by smoothed local tissue (with a synthetic
nodule for an injection, by a harmonic fill from its border for a removal), fresh noise at the level
estimated from the window is added, and the result is blended in with a feathered edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import convolve, distance_transform_edt, gaussian_filter

if TYPE_CHECKING:
    import torch

PATCH = 32
STRIDE = 8
_KERNEL = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]) / 6.0


def grey_scaled(frame: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """A slice (colour averaged to grey) scaled to [0, 1] by its full range."""
    grey = frame.astype(np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    low, high = (float(grey.min()), float(grey.max())) if grey.size else (0.0, 1.0)
    return (grey - low) / max(high - low, 1e-9)


def normalized(windows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """The net's two input channels per window: the window centred on its median and scaled by its
    spread (texture and shape, not the slice's brightness), and its high-pass residual scaled by the
    window's noise level (where replaced noise differs from the scanner's)."""
    flat = windows.reshape(windows.shape[0], -1)
    centre = np.median(flat, axis=1)
    spread = np.maximum(flat.std(axis=1), 1e-3)
    image = (windows - centre[:, None, None]) / spread[:, None, None]
    residual = convolve(windows, _KERNEL[None], mode="reflect")
    level = np.median(np.abs(residual).reshape(windows.shape[0], -1), axis=1) / 0.6745
    residual = np.clip(residual / np.maximum(level, 1e-4)[:, None, None], -8, 8)
    return np.stack([image, residual], axis=1).astype(np.float32)


def noise_level(window: npt.NDArray[np.float64]) -> float:
    """The window's noise standard deviation (Immerkaer's residual, median absolute value)."""
    return float(np.median(np.abs(convolve(window, _KERNEL, mode="reflect"))) / 0.6745)


def _disc(
    size: int, cy: float, cx: float, radius: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """A lobulated disc's profile in [0, 1] (1 at the centre, 0 outside)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    angle = np.arctan2(yy - cy, xx - cx)
    lobes = 1 + 0.15 * np.sin(int(rng.integers(2, 6)) * angle + rng.uniform(0, 2 * np.pi))
    distance = np.hypot(yy - cy, xx - cx) / (radius * lobes)
    profile: npt.NDArray[np.float64] = np.clip(1 - distance**2, 0, 1) ** 1.5
    return profile


def _feathered(profile: npt.NDArray[np.float64], width: float = 2.5) -> npt.NDArray[np.float64]:
    inside = profile > 0
    grown = np.asarray(distance_transform_edt(~inside), dtype=np.float64)
    alpha: npt.NDArray[np.float64] = np.clip(1 - grown / width, 0, 1)
    return alpha


def _placed(size: int, rng: np.random.Generator) -> tuple[float, float, float]:
    radius = float(rng.uniform(3, 8))
    cy, cx = (size / 2 + rng.uniform(-6, 6) for _ in range(2))
    return cy, cx, radius


def lesion_inject(window: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A synthetic nodule blended into a grey window (scaled values), noise-matched."""
    size = window.shape[0]
    cy, cx, radius = _placed(size, rng)
    profile = _disc(size, cy, cx, radius, rng)
    contrast = float(np.percentile(window, 95) - np.percentile(window, 5)) or 0.1
    content = (
        gaussian_filter(window, 2.0)
        + rng.uniform(0.3, 0.8) * contrast * profile
        + rng.normal(0, noise_level(window), window.shape)
    )
    alpha = _feathered(profile)
    blended: npt.NDArray[np.float64] = alpha * content + (1 - alpha) * window
    return blended


def lesion_remove(window: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A disc painted over from its surroundings (harmonic fill), noise-matched, blended in."""
    size = window.shape[0]
    cy, cx, radius = _placed(size, rng)
    profile = _disc(size, cy, cx, radius, rng)
    alpha = _feathered(profile)
    hole = alpha > 0
    filled = window.copy()
    filled[hole] = window[~hole].mean() if (~hole).any() else window.mean()
    for _ in range(150):
        smooth = (
            np.roll(filled, 1, 0) + np.roll(filled, -1, 0) + np.roll(filled, 1, 1) + np.roll(filled, -1, 1)
        ) / 4
        filled = np.where(hole, smooth, window)
    content = filled + rng.normal(0, noise_level(window), window.shape)
    return alpha * content + (1 - alpha) * window


def lesion_net() -> torch.nn.Module:
    """The classifier: three convolution stages and a linear read-out of one logit (about 25k weights)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 48, 3, padding=1),
        nn.BatchNorm2d(48),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(48, 1),
    )


def window_probabilities(windows: npt.NDArray[np.float64], net: torch.nn.Module) -> npt.NDArray[np.float64]:
    """The probability of an injected or removed lesion in each grey window (scaled values)."""
    import torch

    if windows.shape[0] == 0:
        return np.zeros(0)
    torch.set_num_threads(1)
    with torch.no_grad():
        logits = net(torch.from_numpy(normalized(windows)))
    return torch.sigmoid(logits[:, 0]).numpy().astype(np.float64)
