"""Passive copy-move evidence within one slice: matching of overlapping blocks on low-frequency DCT
features, with a minimum shift, voted by shift vector.

A region copied to another place of the same slice leaves many blocks whose features match at one
common shift; natural anatomy leaves matches scattered over many shifts. The score is the number of
matched block pairs sharing the most frequent shift (flat and posterized blocks, e.g. air around the
body or a quantized background, are left out: they match everywhere). The heatmap marks the blocks of the pairs at that shift, both the source
and the copy. Limits: a copy that is rotated, scaled or strongly re-noised is not matched; a copy of a
flat region cannot be told from background; periodic structures (grids, text) can raise the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.fft import dctn

BLOCK = 8
STRIDE = 1
MIN_SHIFT = 16
#: Low-frequency DCT coefficients kept per block (zig-zag order).
COEFFICIENTS = 10
#: Feature distance below which two blocks match (the slice is scaled to [0, 1] first).
MATCH_DISTANCE = 0.03
#: Blocks whose standard deviation (in the scaled slice) is below this are flat and ignored.
MIN_BLOCK_STD = 0.02
#: Blocks with fewer distinct values than this are posterized or mostly flat (an edge between two flat
#: areas, a label, a quantized background): they repeat naturally and are ignored.
MIN_DISTINCT = 16
#: How many following rows of the sorted feature table each block is compared with.
WINDOW = 8


@dataclass(frozen=True)
class CopyMoveResult:
    score: float  # matched block pairs at the dominant shift
    shift: tuple[int, int]  # (rows, columns) from source to copy; (0, 0) when nothing matched
    heatmap: npt.NDArray[np.float32]  # same height and width as the slice, in [0, 1]


def _zigzag(n: int, count: int) -> list[tuple[int, int]]:
    order = sorted(
        ((i, j) for i in range(n) for j in range(n)),
        key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 else p[0]),
    )
    return order[:count]


ZIGZAG = _zigzag(BLOCK, COEFFICIENTS)


def scaled(frame: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """A grey slice scaled to [0, 1] between its 0.5th and 99.5th percentiles."""
    grey = frame.astype(np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    low, high = np.percentile(grey, [0.5, 99.5]) if grey.size else (0.0, 1.0)
    return np.clip((grey - low) / max(float(high - low), 1e-9), 0.0, 1.0)


@dataclass(frozen=True)
class CrossSliceResult:
    score: float  # matched block pairs at the dominant shift, one block in each slice
    shift: tuple[int, int]  # (rows, columns) from the first slice's block to the second's
    heatmaps: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def _blocks(
    grey: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Features and top-left corners of the textured blocks of a scaled slice."""
    windows = np.lib.stride_tricks.sliding_window_view(grey, (BLOCK, BLOCK))[::STRIDE, ::STRIDE]
    grid_cols = windows.shape[1]
    blocks = windows.reshape(-1, BLOCK, BLOCK)
    ys, xs = np.divmod(np.arange(blocks.shape[0]), grid_cols)
    ys, xs = ys * STRIDE, xs * STRIDE
    flat = blocks.reshape(blocks.shape[0], -1)
    distinct = (np.diff(np.sort(flat, axis=1), axis=1) > 0).sum(axis=1) + 1
    keep = (flat.std(axis=1) >= MIN_BLOCK_STD) & (distinct >= MIN_DISTINCT)
    blocks, ys, xs = blocks[keep], ys[keep], xs[keep]
    if blocks.shape[0] == 0:
        return np.zeros((0, COEFFICIENTS)), ys, xs
    coefficients = dctn(blocks, axes=(1, 2), norm="ortho")
    features = np.stack([coefficients[:, i, j] for i, j in ZIGZAG], axis=1)
    return features, ys, xs


def _pairs(
    features: npt.NDArray[np.float64],
    ys: npt.NDArray[np.intp],
    xs: npt.NDArray[np.intp],
    owner: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Matching block pairs at least MIN_SHIFT apart; with two owners (slices), only pairs across them,
    ordered so that `a` is in the first slice."""
    order = np.lexsort(np.round(features / MATCH_DISTANCE).T[::-1])
    count = features.shape[0]
    found_a: list[npt.NDArray[np.intp]] = []
    found_b: list[npt.NDArray[np.intp]] = []
    for step in range(1, min(WINDOW, count - 1) + 1):
        a, b = order[: count - step], order[step:]
        close = np.linalg.norm(features[a] - features[b], axis=1) < MATCH_DISTANCE
        far = np.hypot(ys[a] - ys[b], xs[a] - xs[b]) >= MIN_SHIFT
        chosen = close & far
        if owner.max() > 0:
            chosen &= owner[a] != owner[b]
        a, b = a[chosen], b[chosen]
        swap = owner[a] > owner[b]
        found_a.append(np.where(swap, b, a))
        found_b.append(np.where(swap, a, b))
    if not found_a:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(found_a), np.concatenate(found_b)


def _dominant(
    dy: npt.NDArray[np.intp], dx: npt.NDArray[np.intp]
) -> tuple[int, tuple[int, int], npt.NDArray[np.bool_]]:
    shifts, inverse, votes = np.unique(
        np.stack([dy, dx], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    best = int(votes.argmax())
    return int(votes[best]), (int(shifts[best][0]), int(shifts[best][1])), inverse.reshape(-1) == best


def _heat(
    shape: tuple[int, int], ys: npt.NDArray[np.intp], xs: npt.NDArray[np.intp]
) -> npt.NDArray[np.float32]:
    heat = np.zeros(shape, dtype=np.float32)
    for y, x in zip(ys, xs, strict=True):
        heat[y : y + BLOCK, x : x + BLOCK] += 1.0
    if heat.max() > 0:
        heat /= heat.max()
    return heat


def copy_move(frame: npt.NDArray[Any]) -> CopyMoveResult:
    """Copy-move evidence of one slice (grey, or colour averaged to grey)."""
    grey = scaled(frame)
    rows, cols = grey.shape
    empty = CopyMoveResult(0.0, (0, 0), np.zeros((rows, cols), dtype=np.float32))
    if rows < BLOCK * 2 or cols < BLOCK * 2:
        return empty
    features, ys, xs = _blocks(grey)
    if features.shape[0] < 2:
        return empty
    a, b = _pairs(features, ys, xs, np.zeros(features.shape[0], dtype=np.intp))
    if a.size == 0:
        return empty
    # One direction per pair, so a shift and its opposite vote together.
    dy, dx = ys[b] - ys[a], xs[b] - xs[a]
    flip = (dy < 0) | ((dy == 0) & (dx < 0))
    dy, dx = np.where(flip, -dy, dy), np.where(flip, -dx, dx)
    score, shift, chosen = _dominant(dy, dx)
    both = np.concatenate([a[chosen], b[chosen]])
    return CopyMoveResult(float(score), shift, _heat((rows, cols), ys[both], xs[both]))


def copy_move_between(first: npt.NDArray[Any], second: npt.NDArray[Any]) -> CrossSliceResult:
    """Copy-move evidence across two neighbouring slices of the same size: a region of one copied to a
    different place (at least MIN_SHIFT away) of the other. Both are scaled by their joint range; a copy
    to the same place is indistinguishable from anatomy that continues across slices."""
    rows, cols = first.shape[:2]
    empty = CrossSliceResult(
        0.0, (0, 0), (np.zeros((rows, cols), dtype=np.float32), np.zeros(second.shape[:2], dtype=np.float32))
    )
    if first.shape != second.shape or rows < BLOCK * 2 or cols < BLOCK * 2:
        return empty
    joint = scaled(np.concatenate([first, second], axis=0))
    grey_a, grey_b = joint[:rows], joint[rows:]
    features_a, ys_a, xs_a = _blocks(grey_a)
    features_b, ys_b, xs_b = _blocks(grey_b)
    if features_a.shape[0] == 0 or features_b.shape[0] == 0:
        return empty
    features = np.concatenate([features_a, features_b])
    ys, xs = np.concatenate([ys_a, ys_b]), np.concatenate([xs_a, xs_b])
    owner = np.concatenate([np.zeros(len(ys_a), dtype=np.intp), np.ones(len(ys_b), dtype=np.intp)])
    a, b = _pairs(features, ys, xs, owner)
    if a.size == 0:
        return empty
    score, shift, chosen = _dominant(ys[b] - ys[a], xs[b] - xs[a])
    return CrossSliceResult(
        float(score),
        shift,
        (
            _heat((rows, cols), ys[a[chosen]], xs[a[chosen]]),
            _heat((rows, cols), ys[b[chosen]], xs[b[chosen]]),
        ),
    )
