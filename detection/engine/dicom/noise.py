"""Passive splicing and inpainting evidence within one slice: inconsistency of the local noise level.

A slice made by one scanner in one acquisition carries noise whose level depends on the signal (the
tissue's intensity) but not on the place. A region pasted from another image keeps its own noise; a
region painted over (a lesion removed by smoothing or inpainting) has almost none. Both show as blocks
whose noise level is far from that of blocks of the same intensity elsewhere in the slice.

The noise level of a block is estimated from a high-pass residual (the second-difference kernel of
Immerkaer's estimator, which is zero on any plane, so smooth anatomy leaves little), robustly: the
median absolute residual, so that an edge crossing the block does not dominate. Blocks are compared with
what the slice's other blocks say is expected at their intensity, and the deviation of each block's log
noise level is expressed in robust standard deviations (z). What is expected of an intensity is a
quadratic in intensity fitted robustly to all blocks, so an edited region does not set its own
expectation. The score of a slice is the largest mean |z| over 2x2 neighbouring blocks (an edit covers
several overlapping blocks; one odd block is damped); the heatmap is the per-pixel mean |z| of the
covering blocks, kept where it reaches SUSPECT_Z.

Limits: a pasted region whose noise matches (same scanner, same dose) and an inpainting to which noise
of the right level was added are not found; small regions (under about one block, 16 px) are diluted;
strongly textured or quantized images (8-bit screenshots, palette images) have unreliable noise
estimates, and a posterized slice (under 64 grey levels) is not judged at all (score 0); lossy
compression smooths noise unevenly and can raise the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import convolve

BLOCK = 16
STRIDE = 8
#: Immerkaer's kernel; the sum of its squared weights is 36, so the residual of white noise of
#: standard deviation s has standard deviation 6 s.
KERNEL = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]) / 6.0
#: Pixels at the slice's lowest or highest stored value are clipped (padding outside the field of
#: view, saturation): their noise is gone, so a block with more than this fraction of them is not compared.
MAX_CLIPPED = 0.02
#: The fewest blocks a slice needs to be judged, and the reweighting rounds of the robust fit.
MIN_BLOCKS = 8
ROBUST_ITERATIONS = 10
#: Noise level floor, as a fraction of the slice's quantization step: noise below the step is not seen
#: by the residual (a flat block of an 8-bit image has residual 0), so it is not told apart from none.
SIGMA_FLOOR_STEPS = 0.3
#: Slices with fewer distinct values than this are posterized: their noise cannot be estimated.
MIN_DISTINCT_VALUES = 64
#: The robust spread of log noise levels is never taken below this (a very uniform slice would make
#: every small deviation huge).
MIN_SPREAD = 0.15
#: |z| from which a block is marked in the heatmap.
SUSPECT_Z = 2.5


@dataclass(frozen=True)
class NoiseResult:
    score: float  # the largest mean |z| over 2x2 neighbouring blocks; 0 when there is too little to compare
    heatmap: npt.NDArray[np.float32]  # same height and width as the slice, in [0, 1]
    blocks: int  # blocks compared


def _grid(length: int) -> list[int]:
    starts = list(range(0, length - BLOCK + 1, STRIDE))
    if starts and starts[-1] != length - BLOCK:
        starts.append(length - BLOCK)
    return starts


def _expected(
    intensity: npt.NDArray[np.float64], log_sigma: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The slice's noise level as a smooth function of intensity: a quadratic fitted robustly (Tukey's
    bisquare, iteratively reweighted), so that an edited region, even a large one of a single
    intensity, cannot set what is expected of its own intensity."""
    design = np.stack([np.ones_like(intensity), intensity, intensity**2], axis=1)
    weights = np.ones_like(intensity)
    fitted = np.full_like(intensity, np.median(log_sigma))
    for _ in range(ROBUST_ITERATIONS):
        root = np.sqrt(weights)
        beta, *_ = np.linalg.lstsq(design * root[:, None], log_sigma * root, rcond=None)
        fitted = design @ beta
        residual = log_sigma - fitted
        scale = max(1.4826 * float(np.median(np.abs(residual))), 1e-6)
        u = residual / (4.685 * scale)
        weights = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        if weights.sum() < 3:
            break
    return fitted


def noise_inconsistency(frame: npt.NDArray[Any]) -> NoiseResult:
    """Noise-level inconsistency evidence of one slice (grey, or colour averaged to grey)."""
    grey = frame.astype(np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    # Scaled by the full range, not clipped at percentiles: a noisy pasted region's extremes must keep
    # their noise, and only what sits at the stored extremes (padding, saturation) counts as clipped.
    low, high = (float(grey.min()), float(grey.max())) if grey.size else (0.0, 1.0)
    grey = (grey - low) / max(high - low, 1e-9)
    rows, cols = grey.shape
    empty = NoiseResult(0.0, np.zeros((rows, cols), dtype=np.float32), 0)
    if rows < BLOCK * 2 or cols < BLOCK * 2:
        return empty
    levels = np.unique(grey)
    if levels.size < MIN_DISTINCT_VALUES:
        return empty
    step = float(np.diff(levels).min())
    residual = np.abs(convolve(grey, KERNEL, mode="reflect"))
    ys, xs = _grid(rows), _grid(cols)
    sigma = np.zeros((len(ys), len(xs)))
    mean = np.zeros((len(ys), len(xs)))
    clipped = np.zeros((len(ys), len(xs)))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            # The residual's border pixels see the neighbouring block: only the block's interior counts.
            sigma[i, j] = np.median(residual[y + 1 : y + BLOCK - 1, x + 1 : x + BLOCK - 1]) / 0.6745
            block = grey[y : y + BLOCK, x : x + BLOCK]
            mean[i, j] = block.mean()
            clipped[i, j] = ((block <= 0.0) | (block >= 1.0)).mean()
    used = clipped <= MAX_CLIPPED
    if used.sum() < MIN_BLOCKS:
        return empty
    log_sigma = np.log(np.maximum(sigma, SIGMA_FLOOR_STEPS * step))
    expected = _expected(mean[used], log_sigma[used])
    deviation = np.zeros_like(log_sigma)
    deviation[used] = log_sigma[used] - expected
    spread = max(1.4826 * float(np.median(np.abs(deviation[used]))), MIN_SPREAD)
    z = np.where(used, np.abs(deviation) / spread, 0.0)
    if z.shape[0] >= 2 and z.shape[1] >= 2:
        pooled = (z[:-1, :-1] + z[1:, :-1] + z[:-1, 1:] + z[1:, 1:]) / 4.0
    else:
        pooled = z
    score = float(pooled.max())
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            total[y : y + BLOCK, x : x + BLOCK] += z[i, j]
            count[y : y + BLOCK, x : x + BLOCK] += 1
    per_pixel = total / np.maximum(count, 1)
    heat = np.where(per_pixel >= SUSPECT_Z, per_pixel / max(float(per_pixel.max()), 1e-9), 0.0)
    return NoiseResult(score, heat.astype(np.float32), int(used.sum()))
