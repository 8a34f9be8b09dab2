"""Perceptual video fingerprint and an in-memory index that finds a copy among 100,000 videos.

Fingerprint: two samples per second; each sample is a 128-bit DCT hash (pHash-style) of the grey
frame's central region. Re-encoding and resizing barely move low DCT frequencies. 128 bits rather
than the usual 64 because videos shot in one studio with one framing (a clinic's room) are only
8-16 bits apart at 64 bits, as close as a heavily re-encoded copy to its original; at 128 bits the
GRID corpus speakers (one studio, one framing) are 22 or more bits apart, attacked copies 16 or
fewer. A centred crop is a zoom of the central region, so the *query* side hashes it under a few
zoom hypotheses (`QUERY_ZOOMS`) and one of them lines up with the registered hash. A shortened
copy is just fewer samples, matched with a consistent time offset.

Index: flat numpy arrays (hash, video, sample). A query hash is compared with every registered
hash by XOR + popcount on the first 64 bits, and the few survivors on the other 64; 3 million
hashes (100,000 one-minute videos at 0.5 Hz) take a few milliseconds per query hash, so no tree
is needed at this scale.

A match needs `MIN_VOTES` query samples (and at least half of them) within `MAX_DISTANCE` bits of
one video at one time offset: a single near-collision of two unrelated frames is not enough.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from provenance.engine.errors import ProvenanceError

SAMPLE_HZ = 2.0
REGION = 0.7  # registered hashes cover the central 70% of each dimension
QUERY_ZOOMS = (1.0, 1.06, 1.12, 1.19, 1.26)  # centred crops of 0% to 20%
HASH_SIZE = 32
HASH_BITS = 128
MAX_DISTANCE = 16  # of 128 bits: heavily attacked copies measured at 4-16, other GRID speakers at 22-42
MIN_VOTES = 3
MAX_QUERY_SAMPLES = 12


def _low_dct_order() -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    pairs = sorted(
        ((u, v) for u in range(16) for v in range(16) if (u, v) != (0, 0)), key=lambda p: (p[0] + p[1], p)
    )
    chosen = pairs[:HASH_BITS]
    return np.array([p[0] for p in chosen]), np.array([p[1] for p in chosen])


_ROWS, _COLS = _low_dct_order()
_BIT_WEIGHTS = (np.uint64(1) << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def frame_hash(rgb: NDArray[np.uint8], *, region: float = REGION) -> tuple[int, int]:
    """128-bit perceptual hash of the central `region` of one RGB frame, as two 64-bit words."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    ch, cw = max(1, round(h * region)), max(1, round(w * region))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    small = cv2.resize(grey[y0 : y0 + ch, x0 : x0 + cw], (HASH_SIZE, HASH_SIZE), interpolation=cv2.INTER_AREA)
    coeffs = cv2.dct(small.astype(np.float32))[_ROWS, _COLS]
    bits = coeffs > np.median(coeffs)
    return (
        int(np.sum(_BIT_WEIGHTS[bits[:64]], dtype=np.uint64)),
        int(np.sum(_BIT_WEIGHTS[bits[64:]], dtype=np.uint64)),
    )


@dataclass(frozen=True)
class VideoFingerprint:
    """Hashes sampled at SAMPLE_HZ, shape (samples, 2); `zoomed` (zooms, samples, 2) for queries."""

    hashes: NDArray[np.uint64]
    zoomed: NDArray[np.uint64] | None = None

    @property
    def samples(self) -> int:
        """Number of time samples."""
        return int(self.hashes.shape[0])


def fingerprint_frames(
    frames: Iterable[NDArray[np.uint8]], *, fps: float, for_query: bool = False
) -> VideoFingerprint:
    """Fingerprint a frame sequence; with `for_query`, also hash the zoom hypotheses."""
    step = fps / SAMPLE_HZ
    hashes: list[tuple[int, int]] = []
    zoomed: list[list[tuple[int, int]]] = []
    next_at = 0.0
    for index, rgb in enumerate(frames):
        if index + 1e-6 < next_at:
            continue
        next_at += step
        hashes.append(frame_hash(rgb))
        if for_query:
            zoomed.append([frame_hash(rgb, region=min(1.0, REGION * z)) for z in QUERY_ZOOMS])
            if len(hashes) >= MAX_QUERY_SAMPLES:
                break
    return VideoFingerprint(
        np.array(hashes, dtype=np.uint64).reshape(-1, 2),
        np.array(zoomed, dtype=np.uint64).transpose(1, 0, 2) if for_query and zoomed else None,
    )


def fingerprint_video(path: str | Path, *, for_query: bool = False) -> VideoFingerprint:
    """Fingerprint a video file (a query reads only the first MAX_QUERY_SAMPLES samples)."""
    from provenance.engine.media_io import iter_frames, video_info

    info = video_info(path)
    return fingerprint_frames(iter_frames(path), fps=float(info.fps), for_query=for_query)


@dataclass(frozen=True)
class FingerprintMatch:
    """The best registered video for a query, and how strongly it matched."""

    video_id: str
    votes: int
    query_samples: int
    offset_seconds: float
    mean_distance: float


@dataclass
class FingerprintIndex:
    """Registered fingerprints in flat arrays; `add` is cheap, `match` scans every hash."""

    _ids: list[str] = field(default_factory=list)
    _chunks: list[tuple[NDArray[np.uint64], NDArray[np.int32], NDArray[np.int32]]] = field(
        default_factory=list
    )
    _hashes: NDArray[np.uint64] = field(default_factory=lambda: np.zeros((0, 2), dtype=np.uint64))
    _video: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    _sample: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def hash_count(self) -> int:
        """Number of registered 128-bit hashes (16 bytes each in memory)."""
        return int(self._hashes.shape[0] + sum(c[0].shape[0] for c in self._chunks))

    def add(self, video_id: str, fingerprint: VideoFingerprint) -> None:
        """Register one video's fingerprint."""
        if fingerprint.samples == 0:
            raise ProvenanceError("Cannot register an empty fingerprint.", code="fingerprint_empty")
        n = fingerprint.samples
        self._chunks.append(
            (
                fingerprint.hashes.astype(np.uint64),
                np.full(n, len(self._ids), dtype=np.int32),
                np.arange(n, dtype=np.int32),
            )
        )
        self._ids.append(video_id)

    def add_many(
        self,
        video_ids: list[str],
        hashes: NDArray[np.uint64],
        video_index: NDArray[np.int32],
        sample: NDArray[np.int32],
    ) -> None:
        """Bulk-register pre-computed rows (video_index counts from 0 within `video_ids`)."""
        base = len(self._ids)
        self._chunks.append(
            (hashes.astype(np.uint64), (video_index + base).astype(np.int32), sample.astype(np.int32))
        )
        self._ids.extend(video_ids)

    def _compact(self) -> None:
        if self._chunks:
            self._hashes = np.concatenate([self._hashes, *(c[0] for c in self._chunks)])
            self._video = np.concatenate([self._video, *(c[1] for c in self._chunks)])
            self._sample = np.concatenate([self._sample, *(c[2] for c in self._chunks)])
            self._chunks.clear()

    def save(self, path: str | Path) -> None:
        """Write the index to one .npz file."""
        self._compact()
        np.savez(
            Path(path),
            hashes=self._hashes,
            video=self._video,
            sample=self._sample,
            ids=np.array(self._ids, dtype=str),
        )

    @classmethod
    def load(cls, path: str | Path) -> FingerprintIndex:
        """Read an index written by `save`."""
        with np.load(Path(path)) as data:
            index = cls()
            index._hashes = data["hashes"].astype(np.uint64).reshape(-1, 2)
            index._video = data["video"].astype(np.int32)
            index._sample = data["sample"].astype(np.int32)
            index._ids = [str(x) for x in data["ids"]]
        return index

    def match(self, query: VideoFingerprint) -> FingerprintMatch | None:
        """The registered video this query is a copy of, or None."""
        self._compact()
        if query.samples == 0 or self._hashes.size == 0:
            return None
        variants = query.zoomed if query.zoomed is not None else query.hashes[None, :, :]
        first, second = self._hashes[:, 0], self._hashes[:, 1]
        # votes[(video, offset)] -> {query sample: best distance}
        votes: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
        for q_index in range(query.samples):
            best_for_sample: dict[tuple[int, int], int] = {}
            for high, low in variants[:, q_index].tolist():
                # Half the bits already rule out nearly everything; only survivors get the rest.
                near = np.flatnonzero(
                    np.bitwise_count(np.bitwise_xor(first, np.uint64(high))) <= MAX_DISTANCE
                )
                dist = np.bitwise_count(np.bitwise_xor(first[near], np.uint64(high))) + np.bitwise_count(
                    np.bitwise_xor(second[near], np.uint64(low))
                )
                for hit, d in zip(
                    near[dist <= MAX_DISTANCE].tolist(), dist[dist <= MAX_DISTANCE].tolist(), strict=True
                ):
                    key = (int(self._video[hit]), int(self._sample[hit]) - q_index)
                    if d < best_for_sample.get(key, MAX_DISTANCE + 1):
                        best_for_sample[key] = d
            for key, d in best_for_sample.items():
                votes[key][q_index] = d
        best: FingerprintMatch | None = None
        needed = max(MIN_VOTES, (query.samples + 1) // 2)
        for (video, offset), per_sample in votes.items():
            # Resampling can land a copy's samples half a step early or late: merge neighbours.
            merged = dict(per_sample)
            for neighbour in (offset - 1, offset + 1):
                for q, d in votes.get((video, neighbour), {}).items():
                    merged[q] = min(d, merged.get(q, d))
            if len(merged) < needed:
                continue
            candidate = FingerprintMatch(
                video_id=self._ids[video],
                votes=len(merged),
                query_samples=query.samples,
                offset_seconds=offset / SAMPLE_HZ,
                mean_distance=float(np.mean(list(merged.values()))),
            )
            if best is None or (candidate.votes, -candidate.mean_distance) > (
                best.votes,
                -best.mean_distance,
            ):
                best = candidate
        return best
