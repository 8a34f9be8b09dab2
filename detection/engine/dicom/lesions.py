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
    edited: npt.NDArray[np.float64] = np.asarray(alpha * content + (1 - alpha) * window, dtype=np.float64)
    return edited


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


# --- The residual-statistics classifier (second design) ----------------------------------------------

#: Real slice sources with texture in the shared DICOM files, grouped so that variants of one image
#: (re-encodings, or images that may show the same anatomy) are never split between training and test.
SOURCE_GROUPS: dict[str, tuple[str, ...]] = {
    "CT_small": ("CT_small.dcm",),
    "MR_small": ("MR_small.dcm",),
    "J2KI": ("693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm"),
    "JPEG2000": ("JPEG2000.dcm", "JPGExtended.dcm"),
    "overlay": ("examples_overlay.dcm",),
    "palette": ("examples_palette.dcm",),
    "jpeg2k": ("examples_jpeg2k.dcm",),
    "ybr_cine": ("examples_ybr_color.dcm",),
    "rgb_color": ("examples_rgb_color.dcm",),
    "SC_jpeg": ("SC_jpeg_no_color_transform.dcm", "SC_jpeg_no_color_transform_2.dcm"),
    "image_dfl": ("image_dfl.dcm",),
}


def grey_integer(frame: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """A slice on its own integer grid (colour: the first channel), as floats."""
    grey = frame[..., 0] if frame.ndim == 3 else frame
    return np.asarray(grey, dtype=np.float64)


def _edit(
    window: npt.NDArray[np.float64], donor: npt.NDArray[np.float64], kind: str, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """One varied CT-GAN-manner edit: random size, contrast, blur and noise matching (white noise at
    the window's level, or the high-pass of another window of the same slice scaled to that level)."""
    size = window.shape[0]
    radius = float(rng.uniform(3, 10))
    cy, cx = (size / 2 + rng.uniform(-5, 5) for _ in range(2))
    profile = _disc(size, cy, cx, radius, rng)
    alpha = _feathered(profile, float(rng.uniform(1.5, 4.0)))
    level = noise_level(window)
    if rng.random() < 0.5:
        noise = rng.normal(0, level, window.shape)
    else:
        sigma = float(rng.uniform(1.0, 2.5))
        high = donor - gaussian_filter(donor, sigma)
        noise = high * (level / max(noise_level(high), 1e-9)) if level > 0 else np.zeros_like(high)
    if kind == "inject":
        spread = float(np.percentile(window, 95) - np.percentile(window, 5)) or 1.0
        base = gaussian_filter(window, float(rng.uniform(1.0, 3.0)))
        content = base + float(rng.uniform(0.15, 0.9)) * spread * profile + noise
    else:
        hole = alpha > 0
        filled = window.copy()
        filled[hole] = window[~hole].mean() if (~hole).any() else window.mean()
        for _ in range(120):
            smooth = (
                np.roll(filled, 1, 0)
                + np.roll(filled, -1, 0)
                + np.roll(filled, 1, 1)
                + np.roll(filled, -1, 1)
            ) / 4
            filled = np.where(hole, smooth, window)
        content = filled + noise
    edited: npt.NDArray[np.float64] = np.asarray(alpha * content + (1 - alpha) * window, dtype=np.float64)
    return edited


def tissue_windows(
    frame: npt.NDArray[np.float64], stride: int = STRIDE
) -> tuple[npt.NDArray[np.float64], list[tuple[int, int]]]:
    """Every window on tissue (not flat background) of a slice at `stride`, with its top-left corner."""
    low, span = float(frame.min()), max(float(frame.max() - frame.min()), 1e-9)
    rows, cols = frame.shape
    found: list[npt.NDArray[np.float64]] = []
    corners: list[tuple[int, int]] = []
    for y in range(0, rows - PATCH + 1, stride):
        for x in range(0, cols - PATCH + 1, stride):
            window = frame[y : y + PATCH, x : x + PATCH]
            scaled = (window - low) / span
            if scaled.mean() > 0.1 and scaled.std() > 0.01:
                found.append(window)
                corners.append((y, x))
    if not found:
        return np.zeros((0, PATCH, PATCH)), []
    return np.stack(found).astype(np.float64), corners


def frame_reference(frame: npt.NDArray[np.float64], limit: int = 400) -> npt.NDArray[np.float32]:
    """The slice's own typical feature values (median and spread over its tissue windows): features
    are read relative to the slice they come from, so one scanner's or encoder's noise character is
    not mistaken for an edit. A local edit moves few windows, so the median stays the slice's."""
    windows, _ = tissue_windows(frame)
    if len(windows) > limit:
        windows = windows[np.linspace(0, len(windows) - 1, limit).astype(int)]
    if len(windows) == 0:
        count = window_features(np.zeros((1, PATCH, PATCH))).shape[1]
        return np.stack([np.zeros(count), np.ones(count)]).astype(np.float32)
    features = window_features(windows)
    median = np.median(features, axis=0)
    spread = np.median(np.abs(features - median), axis=0) * 1.4826 + 1e-3
    return np.stack([median, spread]).astype(np.float32)


def edited_windows(
    frames: list[npt.NDArray[np.float64]], per_kind: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.str_], npt.NDArray[np.float32]]:
    """Windows on tissue from `frames` (integer grids): `2 * per_kind` untouched, `per_kind` injected and
    `per_kind` removed, each edit rounded back to the slice's grid and range (as a saved DICOM would be)."""
    rng = np.random.default_rng(seed)
    windows: list[npt.NDArray[np.float64]] = []
    labels: list[int] = []
    kinds: list[str] = []
    references: list[npt.NDArray[np.float32]] = []
    cache: dict[int, npt.NDArray[np.float32]] = {}
    plan = ["untouched"] * (2 * per_kind) + ["inject"] * per_kind + ["remove"] * per_kind
    for kind in plan:
        number = int(rng.integers(len(frames)))
        frame = frames[number]
        low, high = float(frame.min()), float(frame.max())
        span = max(high - low, 1e-9)
        rows, cols = frame.shape
        for _ in range(200):
            y, x = int(rng.integers(0, rows - PATCH + 1)), int(rng.integers(0, cols - PATCH + 1))
            window = frame[y : y + PATCH, x : x + PATCH]
            scaled = (window - low) / span
            if scaled.mean() > 0.1 and scaled.std() > 0.01:
                break
        else:
            continue
        if kind != "untouched":
            dy, dx = int(rng.integers(0, rows - PATCH + 1)), int(rng.integers(0, cols - PATCH + 1))
            window = np.clip(
                np.round(_edit(window, frame[dy : dy + PATCH, dx : dx + PATCH], kind, rng)), low, high
            )
        windows.append(np.asarray(window, dtype=np.float64))
        labels.append(0 if kind == "untouched" else 1)
        kinds.append("" if kind == "untouched" else kind)
        if number not in cache:
            cache[number] = frame_reference(frame)
        references.append(cache[number])
    return np.stack(windows), np.array(labels), np.array(kinds), np.stack(references)


_YY, _XX = np.mgrid[:PATCH, :PATCH]
_DIST = np.hypot(_YY - (PATCH - 1) / 2, _XX - (PATCH - 1) / 2)
_RINGS = [(_DIST < 5), (_DIST < 9), (_DIST >= 9) & (_DIST < 13), (_DIST >= 13)]


def _masked_stats(
    values: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]
) -> list[npt.NDArray[np.float64]]:
    v = values[:, mask]
    mad = np.median(np.abs(v), axis=1) + 1e-6
    std = v.std(axis=1) + 1e-6
    zero = (np.abs(v) < 1e-9).mean(axis=1)
    centred = v - v.mean(axis=1, keepdims=True)
    kurt = (centred**4).mean(axis=1) / (std**4) - 3
    return [np.log(mad), np.log(std), zero, np.clip(kurt, -3, 20)]


def _lag_corr(
    values: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_], axis: int
) -> npt.NDArray[np.float64]:
    shifted = np.roll(values, 1, axis=axis)
    both = mask & np.roll(mask, 1, axis=axis - 1)
    a, b = values[:, both], shifted[:, both]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    corr: npt.NDArray[np.float64] = (a * b).mean(axis=1) / (a.std(axis=1) * b.std(axis=1) + 1e-9)
    return corr


def window_features(windows: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Scale-free statistics of each window's noise residuals inside central discs against its outer
    ring (level, spread, share of exact zeros, kurtosis and neighbour correlation of a Laplacian and a
    difference-of-Gaussians residual), plus the outer ring's own character as context."""
    scale = np.maximum(windows.reshape(len(windows), -1).std(axis=1), 1e-6)[:, None, None]
    w = windows / scale
    lap = convolve(w, _KERNEL[None], mode="reflect")
    dog = gaussian_filter(w, (0, 1, 1)) - gaussian_filter(w, (0, 3, 3))
    columns: list[npt.NDArray[np.float64]] = []
    for residual in (lap, dog):
        outer = _masked_stats(residual, _RINGS[3])
        outer_h = _lag_corr(residual, _RINGS[3], 2)
        outer_v = _lag_corr(residual, _RINGS[3], 1)
        columns += [*outer, outer_h, outer_v]
        for ring in _RINGS[:3]:
            inner = _masked_stats(residual, ring)
            columns += [i - o for i, o in zip(inner, outer, strict=True)]
            columns += [_lag_corr(residual, ring, 2) - outer_h, _lag_corr(residual, ring, 1) - outer_v]
    smooth = gaussian_filter(w, (0, 1.5, 1.5))
    for ring in _RINGS[:3]:
        columns.append(smooth[:, ring].mean(axis=1) - smooth[:, _RINGS[3]].mean(axis=1))
    return np.nan_to_num(np.stack(columns, axis=1)).astype(np.float32)


def model_inputs(
    windows: npt.NDArray[np.float64], references: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Each window's features relative to its slice's reference (`frame_reference`), beside the raw ones."""
    raw = window_features(windows)
    relative = np.clip((raw - references[:, 0]) / references[:, 1], -10, 10)
    return np.concatenate([raw, relative], axis=1).astype(np.float32)


def train_classifier(
    windows: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    references: npt.NDArray[np.float32],
    *,
    epochs: int = 60,
    kind: str = "features",
) -> dict[str, Any]:
    """A small torch MLP on `model_inputs` (standardized), trained full-batch with Adam."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    features = model_inputs(windows, references)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = torch.from_numpy((features - mean) / std)
    y = torch.from_numpy(labels.astype(np.float32))
    net = nn.Sequential(nn.Linear(x.shape[1], 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(net(x)[:, 0], y)
        loss.backward()
        optimizer.step()
    net.eval()
    return {"net": net, "mean": mean, "std": std}


def classify_windows(
    windows: npt.NDArray[np.float64],
    references: npt.NDArray[np.float32],
    model: dict[str, Any],
    *,
    logits: bool = False,
) -> npt.NDArray[np.float64]:
    """The probability (or the logit) of an injected or removed lesion in each window (integer-grid
    values)."""
    import torch

    if len(windows) == 0:
        return np.zeros(0)
    features = (model_inputs(windows, references) - model["mean"]) / model["std"]
    with torch.no_grad():
        out = model["net"](torch.from_numpy(features.astype(np.float32)))[:, 0]
    return (out if logits else torch.sigmoid(out)).numpy().astype(np.float64)


def slice_lesion_map(
    frame: npt.NDArray[Any], model: dict[str, Any], *, stride: int = STRIDE, relative: bool = False
) -> tuple[float, npt.NDArray[np.float32]]:
    """Slide the classifier over a slice's tissue windows: the slice's score (the most suspect window's
    logit; `relative`: how far it stands above the slice's typical window, in robust standard
    deviations) and a heatmap in [0, 1] (each pixel: the largest probability of a window centred near
    it)."""
    grey = grey_integer(frame)
    heat = np.zeros(grey.shape, dtype=np.float32)
    windows, corners = tissue_windows(grey, stride)
    if not corners:
        return 0.0, heat
    logit = classify_windows(
        windows, np.repeat(frame_reference(grey)[None], len(windows), 0), model, logits=True
    )
    probabilities = 1 / (1 + np.exp(-np.clip(logit, -30, 30)))
    median = float(np.median(logit))
    spread = float(np.median(np.abs(logit - median))) * 1.4826 + 0.5
    margin = (PATCH - stride) // 2
    for (y, x), p in zip(corners, probabilities, strict=True):
        block = heat[y + margin : y + PATCH - margin, x + margin : x + PATCH - margin]
        np.maximum(block, np.float32(p), out=block)
    return float((logit.max() - median) / spread if relative else logit.max()), heat
