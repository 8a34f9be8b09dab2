"""Robust invisible video watermark carrying a 64-bit content id (plus a CRC-16) in every frame.

Design (why each piece is there):

* **Resolution-independent geometry.** The mark is a pattern on a fixed *normalised* grid: the
  frame height always spans `CANON_ROWS` canonical pixels, whatever the real resolution. A
  downscaled or upscaled copy therefore carries the same pattern at the same canonical size.
* **Periodic tile.** The pattern repeats with a period of `TILE` canonical pixels. Cropping only
  shifts the tile's phase, which the detector finds by FFT cross-correlation with a known sync
  component (every cyclic shift at once). Cropping also changes the height that the canonical
  grid is measured against, so the detector tries a ladder of scale factors (crop of up to
  `MAX_CROP` of the height) and keeps the sharpest correlation peak.
* **Frequency-disjoint spread spectrum.** The tile is built in the 2-D Fourier domain from
  mid-frequency bins only (low enough to survive H.264 at crf 28-35 and a 4x downscale, high
  enough to stay out of the way of the picture's own energy). 40 % of the bins form the sync
  pattern; the rest are dealt to the 172 coded bits, each flipping the sign of its bins. Disjoint
  bins make sync and bits orthogonal at the right alignment, and each bit's bins are spread from
  low to high frequencies so a heavy downscale hurts all bits alike.
* **Error correction, then error detection.** The 80 payload bits go through a rate-1/2, K=7
  convolutional code (172 coded bits with the tail) decoded by soft-decision Viterbi: weak bits
  are outvoted by the code's redundancy instead of breaking the CRC.
* **Keyed.** Bin phases and the bin-to-bit assignment come from a secret key: without it the
  pattern can't be read, forged or subtracted.
* **A slow temporal carrier, read by lock-in.** The tile's strength follows
  `sqrt(2) cos(2 pi t / PERIOD_S)`. The detector multiplies whitened frames by cos and sin of the
  same carrier and sums whole periods: the mark adds up coherently whatever the clip's starting
  phase, while a static picture (the still background of a talking head, which would swamp a
  static mark) sums to zero and moving content averages out. A smooth carrier costs H.264 little
  bit rate and flickers less than sign flips would. Stills (posters) carry the static form.
* **Detector-side whitening.** Frames are reduced to canonical size, their low frequencies and
  local contrast removed, and the band bins phase-normalised, so the picture's own structure
  weighs as little as possible against the mark.
* **Bounded false positives.** An id is reported only when (a) the sync peak exceeds
  `SYNC_THRESHOLD` noise standard deviations and (b) the decoded 80 bits carry a valid CRC-16
  over the 64-bit id. See `false_positive_bound()` for the analytical figure.

Payload: 64-bit content id (big-endian) + CRC-16/CCITT-FALSE of those 8 bytes = 80 bits.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from provenance.engine.errors import ProvenanceError

CANON_ROWS = 256  # canonical pixels per frame height
TILE = 256  # tile period in canonical pixels (one frame height: more bins for sync and bits)
BAND = (5.0, 28.0)  # radial band in cycles per tile: periods of 9 to 51 canonical pixels
SYNC_SHARE = 0.4  # fraction of band bins used for synchronisation
ID_BITS = 64
CRC_BITS = 16
PAYLOAD_BITS = ID_BITS + CRC_BITS
CONV_K = 7  # constraint length of the convolutional code (the 133/171 code of many standards)
CONV_POLYS = (0o133, 0o171)
CODED_BITS = 2 * (PAYLOAD_BITS + CONV_K - 1)  # rate 1/2 plus a zero tail that ends in state 0
DEFAULT_STRENGTH = 2.6  # RMS luma change in 8-bit levels (PSNR about 39 dB)
MAX_CROP = 0.25  # largest fraction of the height that may have been cropped away
SCALE_STEP = 0.005
SYNC_THRESHOLD = 7.5  # z-score a sync peak must reach before any bits are trusted
WHITEN_SIGMA = 6.0  # canonical pixels; removes the picture's low frequencies before folding
PERIOD_S = 1.0  # temporal carrier period in seconds
PEAK_CLIP = 2.0  # pattern values are clipped at this many RMS
MASK_RANGE = (0.6, 1.4)  # texture mask limits (relative strength in flat vs busy regions)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def new_content_id() -> int:
    """A fresh random 64-bit content id (never 0, which readers may treat as 'none')."""
    return secrets.randbits(ID_BITS) or 1


def content_id_hex(content_id: int) -> str:
    """The id as 16 hex digits, the form stored in manifests and the registry."""
    return f"{content_id:016x}"


def payload_bits(content_id: int) -> NDArray[np.int8]:
    """The 80 transmitted bits (0/1) for a content id: id then CRC, most significant first."""
    if not 0 <= content_id < 1 << ID_BITS:
        raise ProvenanceError("A content id must be an unsigned 64-bit integer.", code="watermark_invalid")
    raw = content_id.to_bytes(8, "big")
    word = (content_id << CRC_BITS) | crc16(raw)
    return np.array([(word >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.int8)


def decode_payload(bits: NDArray[np.int8]) -> int | None:
    """The content id if the 80 bits carry a valid CRC, else None."""
    word = 0
    for bit in bits.tolist():
        word = (word << 1) | int(bit)
    content_id, crc = word >> CRC_BITS, word & 0xFFFF
    return content_id if crc16(content_id.to_bytes(8, "big")) == crc else None


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


@lru_cache(maxsize=1)
def _trellis() -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """Output bits of every 7-bit register value (newest input in bit 6) for both polynomials."""
    regs = range(1 << CONV_K)
    return (
        np.array([_parity(r & CONV_POLYS[0]) for r in regs], dtype=np.int8),
        np.array([_parity(r & CONV_POLYS[1]) for r in regs], dtype=np.int8),
    )


def conv_encode(bits: NDArray[np.int8]) -> NDArray[np.int8]:
    """Rate-1/2 convolutional encoding with a zero tail (CODED_BITS out for PAYLOAD_BITS in)."""
    out0, out1 = _trellis()
    state, coded = 0, []
    for bit in [*bits.tolist(), *([0] * (CONV_K - 1))]:
        reg = (int(bit) << (CONV_K - 1)) | state
        coded += [int(out0[reg]), int(out1[reg])]
        state = reg >> 1
    return np.array(coded, dtype=np.int8)


def viterbi_decode(soft: NDArray[np.float64]) -> NDArray[np.int8]:
    """Soft-decision Viterbi decoding (positive soft value = coded bit 1) of `conv_encode` output.

    Soft decisions give a few dB of coding gain over hard ones: weak bits are outvoted by the
    code's redundancy instead of breaking the CRC.
    """
    out0, out1 = _trellis()
    n_states = 1 << (CONV_K - 1)
    regs = np.arange(1 << CONV_K)
    sign0, sign1 = 2.0 * out0[regs] - 1.0, 2.0 * out1[regs] - 1.0
    # For each next state ns the two registers leading to it are 2*ns and 2*ns + 1.
    next_states = np.arange(n_states)
    reg_a, reg_b = 2 * next_states, 2 * next_states + 1
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    steps = soft.size // 2
    choice = np.zeros((steps, n_states), dtype=np.int8)
    for t in range(steps):
        y0, y1 = soft[2 * t], soft[2 * t + 1]
        branch = y0 * sign0 + y1 * sign1
        cand_a = metric[reg_a & (n_states - 1)] + branch[reg_a]
        cand_b = metric[reg_b & (n_states - 1)] + branch[reg_b]
        pick_b = cand_b > cand_a
        choice[t] = pick_b
        metric = np.where(pick_b, cand_b, cand_a)
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        reg = 2 * state + int(choice[t, state])
        bits.append(reg >> (CONV_K - 1))
        state = reg & (n_states - 1)
    return np.array(bits[::-1][:PAYLOAD_BITS], dtype=np.int8)


@dataclass(frozen=True)
class _Layout:
    """Keyed tile layout: band bins, their phases, and which bins are sync or which bit."""

    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    phase: NDArray[np.complex128]  # unit phasors, one per bin
    group: NDArray[np.intp]  # -1 = sync, k = coded bit k
    freq_y: NDArray[np.float64]  # cycles per tile, signed, for sub-pixel shifts
    freq_x: NDArray[np.float64]


@lru_cache(maxsize=8)
def _layout(key: bytes) -> _Layout:
    seed = int.from_bytes(hashlib.sha256(b"candor-watermark-v1|" + key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(TILE, d=1.0 / TILE)[:, None]
    fx = np.fft.rfftfreq(TILE, d=1.0 / TILE)[None, :]
    radius = np.hypot(fy, fx)
    # The kx = 0 column is its own mirror image in a real FFT; leaving it out keeps every bin
    # independent.
    band = (radius >= BAND[0]) & (radius <= BAND[1]) & (fx > 0)
    rows, cols = np.nonzero(band)
    order = np.argsort(radius[rows, cols] + rng.uniform(0, 0.5, rows.size))
    rows, cols = rows[order], cols[order]
    n = rows.size
    # Deal bins in order of radius, one cycle at a time: each cycle holds every payload bit once
    # plus its share of sync bins, freshly shuffled, so each bit's bins span the whole band.
    n_sync_per_cycle = round(CODED_BITS * SYNC_SHARE / (1.0 - SYNC_SHARE))
    cycle = np.array([-1] * n_sync_per_cycle + list(range(CODED_BITS)), dtype=np.intp)
    group = np.concatenate([rng.permutation(cycle) for _ in range(-(-n // cycle.size))])[:n]
    phase = np.exp(2j * np.pi * rng.random(n))
    return _Layout(
        rows=rows,
        cols=cols,
        phase=phase,
        group=group,
        freq_y=np.asarray(fy[rows, 0], dtype=np.float64),
        freq_x=np.asarray(fx[0, cols], dtype=np.float64),
    )


@lru_cache(maxsize=16)
def _tile(key: bytes, content_id: int) -> NDArray[np.float32]:
    """The unit-RMS watermark tile (TILE x TILE canonical pixels) for one key and content id."""
    layout = _layout(key)
    signs = 2.0 * conv_encode(payload_bits(content_id)).astype(np.float64) - 1.0
    coeff = layout.phase * np.where(layout.group < 0, 1.0, signs[np.clip(layout.group, 0, None)])
    spectrum = np.zeros((TILE, TILE // 2 + 1), dtype=np.complex128)
    spectrum[layout.rows, layout.cols] = coeff
    tile = np.fft.irfft2(spectrum, s=(TILE, TILE))
    tile /= np.sqrt(np.mean(tile**2))
    # The rare peaks of a Gaussian-like pattern are what an eye catches first; clipping them costs
    # almost no correlation.
    tile = np.clip(tile, -PEAK_CLIP, PEAK_CLIP)
    tile /= np.sqrt(np.mean(tile**2))
    return tile.astype(np.float32)


def _canon_width(width: int, height: int) -> int:
    return max(1, round(width * CANON_ROWS / height))


def _luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    f = rgb.astype(np.float32)
    return np.asarray(0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2], dtype=np.float32)


class WatermarkEmbedder:
    """Adds the watermark for one content id to frames of one size; create once per video.

    The change is a luma offset added equally to R, G and B (so colours keep their hue), scaled
    by a mild texture mask (busy regions hide more, flat walls and skin get less) and, in video,
    by a slow temporal carrier `sqrt(2) * cos(2 pi t / PERIOD_S)`. The carrier is what lets the
    detector cancel a static background (see `WatermarkDetector`); its RMS over time is 1, so
    the PSNR is the same as for a static mark of the same strength.
    """

    def __init__(
        self,
        *,
        key: bytes,
        content_id: int,
        width: int,
        height: int,
        fps: float = 25.0,
        strength: float = DEFAULT_STRENGTH,
    ) -> None:
        import cv2

        if width <= 0 or height <= 0 or fps <= 0:
            raise ProvenanceError("Frame size and rate must be positive.", code="watermark_invalid")
        self.width, self.height, self.fps, self.strength = width, height, fps, strength
        self.frames = 0
        tile = _tile(key, content_id)
        canon_w = _canon_width(width, height)
        reps_y, reps_x = -(-CANON_ROWS // TILE), -(-canon_w // TILE)
        canon = np.tile(tile, (reps_y, reps_x))[:CANON_ROWS, :canon_w]
        self._field = cv2.resize(canon, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)

    def _mask(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        import cv2

        # The mask is smooth (a blur of 4 canonical pixels), so it is computed on the luma at half
        # the canonical size, reached by halving with area averaging (OpenCV's fast path) and one
        # small resize: on a full 720p frame these steps cost more than the mark itself.
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        rows = CANON_ROWS // 2
        while grey.shape[0] >= 2 * rows:
            grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
        size = (max(1, _canon_width(self.width, self.height) // 2), rows)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
        mean = cv2.GaussianBlur(small, (0, 0), 2.0)
        activity = np.sqrt(np.maximum(cv2.GaussianBlur(small * small, (0, 0), 2.0) - mean * mean, 0.0))
        # Normalised to mean 1 so the strength (and thus PSNR) is about the same on any picture;
        # the range is narrow because flat areas are also where the detector reads best.
        mask = np.clip(activity / (float(np.mean(activity)) + 1e-6), MASK_RANGE[0], MASK_RANGE[1])
        mask /= float(np.mean(mask))
        return np.asarray(
            cv2.resize(mask, (self.width, self.height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
        )

    def _apply(self, rgb: NDArray[np.uint8], gain: float) -> NDArray[np.uint8]:
        import cv2

        if rgb.shape != (self.height, self.width, 3):
            raise ProvenanceError(
                f"Frame must be {self.height}x{self.width}x3, got {rgb.shape}.", code="watermark_invalid"
            )
        delta = cv2.multiply(self._field, self._mask(rgb), scale=gain)
        # The rounded change split into its raised and lowered parts (8-bit, never both at one
        # pixel), then two saturating 8-bit operations: the same result as clip(rint(rgb + delta))
        # without a float copy of the frame. The mark runs on every published frame.
        raised = cv2.convertScaleAbs(np.maximum(delta, 0.0))
        lowered = cv2.convertScaleAbs(np.minimum(delta, 0.0))
        out = cv2.add(np.ascontiguousarray(rgb), cv2.merge((raised, raised, raised)))
        return np.asarray(cv2.subtract(out, cv2.merge((lowered, lowered, lowered))), dtype=np.uint8)

    def embed(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Return a watermarked copy of the next video frame (HxWx3 uint8 RGB), in order."""
        t = self.frames / self.fps
        self.frames += 1
        return self._apply(rgb, self.strength * math.sqrt(2.0) * math.cos(2.0 * math.pi * t / PERIOD_S))

    def embed_still(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Return a watermarked copy of a still image (a poster): the static form of the mark."""
        return self._apply(rgb, self.strength)


class OutputMarker:
    """Marks one output as it is made: its video frames with one content id, its poster with another.

    A render hands each frame to `mark_frame` just before encoding it, so the published file is
    encoded once (`embed_video` re-encodes a finished file and is for media that arrives whole).
    The mark's PSNR is sampled on one frame a second: a full count would cost a float copy of
    every frame, about as much as the mark itself.
    """

    def __init__(
        self,
        *,
        key: bytes,
        width: int,
        height: int,
        fps: float = 25.0,
        video_id: int | None = None,
        poster_id: int | None = None,
        strength: float = DEFAULT_STRENGTH,
    ) -> None:
        self.video_id = video_id if video_id is not None else new_content_id()
        self.poster_id = poster_id if poster_id is not None else new_content_id()
        self._video = WatermarkEmbedder(
            key=key, content_id=self.video_id, width=width, height=height, fps=fps, strength=strength
        )
        self._key, self._strength = key, strength
        self._sample_every = max(1, round(fps))
        self._squared_error, self._samples = 0.0, 0
        self.poster_psnr_db = float("inf")

    @property
    def video_content_id(self) -> str:
        """The video's id as manifests and the registry hold it (16 hex digits)."""
        return content_id_hex(self.video_id)

    @property
    def poster_content_id(self) -> str:
        """The poster's id as manifests and the registry hold it (16 hex digits)."""
        return content_id_hex(self.poster_id)

    @property
    def frames(self) -> int:
        """How many video frames have been marked."""
        return self._video.frames

    @property
    def psnr_db(self) -> float:
        """PSNR of the video mark over the sampled frames (inf before any)."""
        return psnr(self._squared_error / self._samples) if self._samples else float("inf")

    def mark_frame(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The next video frame, marked (frames must come in order)."""
        sample = self._video.frames % self._sample_every == 0
        marked = self._video.embed(rgb)
        if sample:
            diff = marked.astype(np.float32) - rgb.astype(np.float32)
            self._squared_error += float(np.sum(diff * diff))
            self._samples += diff.size
        return marked

    def mark_poster(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The poster (any size), marked with the static form of the poster's own id."""
        height, width = rgb.shape[:2]
        embedder = WatermarkEmbedder(
            key=self._key, content_id=self.poster_id, width=width, height=height, strength=self._strength
        )
        marked = embedder.embed_still(rgb)
        diff = marked.astype(np.float32) - rgb.astype(np.float32)
        self.poster_psnr_db = psnr(float(np.mean(diff * diff)))
        return marked


@dataclass(frozen=True)
class WatermarkResult:
    """What the detector concluded from the frames it saw."""

    content_id: int | None
    sync_score: float  # peak of the best synchronisation surface, in noise standard deviations
    crc_ok: bool
    frames: int
    scale: float = 1.0  # detected height fraction (1.0 = no vertical crop)
    shift: tuple[float, float] = (0.0, 0.0)
    bit_margin: float = 0.0  # mean |soft bit| / its spread: how clearly the bits were read
    mode: str = ""  # "carrier" (temporal lock-in) or "static" (single frames, posters)

    @property
    def found(self) -> bool:
        """True when an id passed both the sync threshold and the CRC."""
        return self.content_id is not None

    @property
    def content_id_hex(self) -> str:
        """The id as 16 hex digits, or "" when none was found."""
        return content_id_hex(self.content_id) if self.content_id is not None else ""


def _whiten(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Canonical-size luma with the picture's own low frequencies and local contrast removed."""
    import cv2

    height, width = rgb.shape[:2]
    canon = cv2.resize(_luma(rgb), (_canon_width(width, height), CANON_ROWS), interpolation=cv2.INTER_AREA)
    white = canon - cv2.GaussianBlur(canon, (0, 0), WHITEN_SIGMA)
    # Local contrast normalisation: an edge or a textured patch would otherwise outweigh the
    # flat regions, where the mark stands out most clearly against the picture.
    local = np.sqrt(cv2.GaussianBlur(white * white, (0, 0), 8.0))
    white = white / (local + 2.0)
    limit = 3.0 * float(np.std(white)) + 1e-3
    return np.asarray(np.clip(white, -limit, limit), dtype=np.float32)


@dataclass
class WatermarkDetector:
    """Accumulates whitened frames of one clip, then searches scale and shift and decodes the id.

    Three running sums: the plain sum (for still images and clips shorter than a carrier period)
    and the cos/sin lock-in sums against the temporal carrier. The lock-in sums only count whole
    carrier periods, over which a static picture sums to zero: a talking head in front of a
    still background, which hides a static mark, cancels out and leaves the mark.
    """

    key: bytes
    fps: float = 25.0
    sync_threshold: float = SYNC_THRESHOLD
    frames: int = 0
    _static: NDArray[np.float32] | None = field(default=None, repr=False)
    _lockin: NDArray[np.float32] | None = field(default=None, repr=False)  # [cos, sin] of whole periods
    _period: NDArray[np.float32] | None = field(default=None, repr=False)  # the period in progress
    _periods: int = 0
    _period_frames: int = 0

    def add_frame(self, rgb: NDArray[np.uint8]) -> None:
        """Fold one RGB frame (any size) into the running sums."""
        white = _whiten(rgb)
        if self._static is None or self._static.shape != white.shape:
            self._static = np.zeros_like(white)
            self._lockin = np.zeros((2, *white.shape), dtype=np.float32)
            self._period = np.zeros((2, *white.shape), dtype=np.float32)
            self._periods, self._period_frames = 0, 0
        assert self._lockin is not None and self._period is not None
        angle = 2.0 * math.pi * (self.frames / self.fps) / PERIOD_S
        self._static += white
        self._period[0] += math.cos(angle) * white
        self._period[1] += math.sin(angle) * white
        self.frames += 1
        self._period_frames += 1
        if self._period_frames >= round(PERIOD_S * self.fps):
            self._lockin += self._period
            self._period[:] = 0
            self._periods += 1
            self._period_frames = 0

    def add_frames(self, frames: Iterable[NDArray[np.uint8]]) -> None:
        """Add every frame of an iterable."""
        for rgb in frames:
            self.add_frame(rgb)

    def candidates(self) -> list[WatermarkResult]:
        """Every decode the detector tries on what it has seen (empty before the first frame).

        Whole carrier periods: the lock-in pair only. Less (a still, a very short clip): the
        static sum, for posters, and the carrier pair of the partial period, for a frame grabbed
        from a marked video, whose mark may have either sign.
        """
        if self._static is None or self._lockin is None or self._period is None:
            return []
        if self._periods:
            # Over whole carrier periods the static sum of a marked video is zero: skip it.
            return [_decode(list(self._lockin), self.key, self.frames, self.sync_threshold, "carrier")]
        return [
            _decode([self._static], self.key, self.frames, self.sync_threshold, "static"),
            _decode(list(self._period), self.key, self.frames, self.sync_threshold, "carrier"),
        ]

    def result(self) -> WatermarkResult:
        """Search scales and shifts for the sync pattern; decode and CRC-check the payload."""
        candidates = self.candidates()
        if not candidates:
            return WatermarkResult(None, 0.0, False, 0)
        found = [c for c in candidates if c.found]
        return max(found or candidates, key=lambda c: c.sync_score)


def _fold(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """Sum an image into one TILE x TILE tile (zero-padding the partial tiles)."""
    h, w = image.shape
    ph, pw = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    padded = np.zeros((ph, pw), dtype=np.float32)
    padded[:h, :w] = image - float(np.mean(image))
    return np.asarray(padded.reshape(ph // TILE, TILE, pw // TILE, TILE).sum(axis=(0, 2)), dtype=np.float32)


def _whitened_power(surfaces: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Per shift, the squared norm of the sync surfaces' values in units of their joint spread.

    Under the null each shift's values are jointly normal with the covariance measured over all
    shifts, so this is chi-square with as many degrees of freedom as the surfaces carry
    independent signal: 2 for a lock-in pair over whole periods (the square root is Rayleigh),
    but 1 for a single frame, whose sine half is all zeros, and for a static picture seen for
    part of a period, whose two halves are the same picture weighted twice. Dividing a pair's
    power by half its mean, as if both halves always carried equal independent noise, inflated
    a still's z by the square root of 2.
    """
    stacked = np.stack([surface.ravel() for surface in surfaces])
    covariance = stacked @ stacked.T / stacked.shape[1]
    variances, axes = np.linalg.eigh(covariance)
    # Components with (next to) no variance carry no signal, only rounding: they are left out.
    keep = variances > max(float(variances.max()), 1e-30) * 1e-6
    projected = axes[:, keep].T @ stacked
    power: NDArray[np.float64] = np.sum(projected * projected / variances[keep][:, None], axis=0)
    return power.reshape(surfaces[0].shape)


def _normalised_band(tile: NDArray[np.float32], layout: _Layout) -> NDArray[np.complex128]:
    spec = np.fft.rfft2(tile)[layout.rows, layout.cols]
    return np.asarray(spec / (np.abs(spec) + 1e-9), dtype=np.complex128)


def _decode(
    accumulators: list[NDArray[np.float32]], key: bytes, frames: int, threshold: float, mode: str
) -> WatermarkResult:
    """Find scale and shift on one accumulator (static) or a quadrature pair (lock-in), then decode.

    For a pair the carrier's phase is unknown, so the sync surfaces of both are combined as a
    magnitude, and the bits are read from the two combined in proportion to their sync peaks
    (maximal-ratio combining).
    """
    import cv2

    layout = _layout(key)
    sync = layout.group < 0
    signed = len(accumulators) == 1
    best: tuple[float, float, list[NDArray[np.complex128]], int, int] | None = None
    h, w = accumulators[0].shape
    n_steps = int(round(MAX_CROP / SCALE_STEP))
    for step in range(n_steps + 1):
        scale = 1.0 - step * SCALE_STEP
        # Undo a vertical crop of (1 - scale): the pattern then has its embedded period again.
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        bands, surfaces = [], []
        for acc in accumulators:
            resized = (
                acc
                if step == 0
                else np.asarray(cv2.resize(acc, size, interpolation=cv2.INTER_LINEAR), np.float32)
            )
            band = _normalised_band(_fold(resized), layout)
            cross = np.zeros((TILE, TILE // 2 + 1), dtype=np.complex128)
            cross[layout.rows[sync], layout.cols[sync]] = band[sync] * np.conj(layout.phase[sync])
            surfaces.append(np.fft.irfft2(cross, s=(TILE, TILE)))
            bands.append(band)
        if signed:
            power = surfaces[0]
            peak = int(np.argmax(power))
            z = float((power.flat[peak] - power.mean()) / (power.std() + 1e-12))
        else:
            power = _whitened_power(surfaces)
            peak = int(np.argmax(power))
            z = float(math.sqrt(power.flat[peak]))
        if best is None or z > best[0]:
            best = (z, scale, bands, peak // TILE, peak % TILE)
    assert best is not None
    z, scale, bands, dy, dx = best
    # Refine the shift to a quarter canonical pixel: resampling rarely lands on whole pixels.
    offsets = np.arange(-0.5, 0.51, 0.25)
    sub_y, sub_x = np.meshgrid(offsets, offsets, indexing="ij")
    shift_y, shift_x = dy + sub_y.ravel(), dx + sub_x.ravel()
    ramps = np.exp(2j * np.pi * (np.outer(shift_y, layout.freq_y) + np.outer(shift_x, layout.freq_x)) / TILE)
    aligned = [(band[None, :] * ramps * np.conj(layout.phase)[None, :]).real for band in bands]
    peaks = np.stack([a[:, sync].sum(axis=1) for a in aligned])  # components x sub-shifts
    pick = int(np.argmax(peaks[0] if signed else np.sum(peaks * peaks, axis=0)))
    weights = peaks[:, pick] / (np.linalg.norm(peaks[:, pick]) + 1e-12)
    combined = sum(wgt * a[pick] for wgt, a in zip(weights, aligned, strict=True))
    soft = np.asarray(
        np.bincount(layout.group[~sync], weights=np.asarray(combined)[~sync], minlength=CODED_BITS),
        dtype=np.float64,
    )
    bits = viterbi_decode(soft)
    margin = float(np.mean(np.abs(soft)) / (np.std(np.abs(soft)) + 1e-9))
    content_id = decode_payload(bits) if z >= threshold else None
    return WatermarkResult(
        content_id=content_id,
        sync_score=z,
        crc_ok=content_id is not None,
        frames=frames,
        scale=scale,
        shift=(float(shift_y[pick]), float(shift_x[pick])),
        bit_margin=margin,
        mode=mode,
    )


def detect_frames(frames: Iterable[NDArray[np.uint8]], *, key: bytes, fps: float = 25.0) -> WatermarkResult:
    """Detect the watermark over a sequence of RGB frames shown at `fps`."""
    detector = WatermarkDetector(key, fps=fps)
    detector.add_frames(frames)
    return detector.result()


def detect_video(path: str | Path, *, key: bytes, max_seconds: float | None = 10.0) -> WatermarkResult:
    """Detect the watermark in a video file, reading at most `max_seconds` (None = all)."""
    from provenance.engine.media_io import iter_frames, video_info

    fps = float(video_info(path).fps)
    return detect_frames(iter_frames(path, max_seconds=max_seconds), key=key, fps=fps)


def detect_image(path: str | Path, *, key: bytes) -> WatermarkResult:
    """Detect the watermark in a still image (a poster frame, a screenshot).

    An image Pillow cannot read carries no watermark this detector can see: that is the answer,
    not an error (the verify page must answer for any upload; refusing such files is the upload
    check's job).
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Exception:
        # Pillow has no single error for a damaged or hostile image: UnidentifiedImageError and
        # other OSErrors, SyntaxError (a broken PNG chunk), ValueError, EOFError, struct.error,
        # DecompressionBombError, among others.
        return WatermarkResult(None, 0.0, False, 0, mode="static")
    return detect_frames([rgb], key=key)


@dataclass(frozen=True)
class EmbedResult:
    """What `embed_video` wrote."""

    path: Path
    frames: int
    psnr_db: float


def embed_video(
    source: str | Path,
    dest: str | Path,
    *,
    key: bytes,
    content_id: int,
    strength: float = DEFAULT_STRENGTH,
    crf: int = 18,
) -> EmbedResult:
    """Watermark every frame of `source` into a new H.264 MP4 (audio copied), reporting PSNR.

    Render pipelines that already stream frames should use `WatermarkEmbedder` directly instead.
    """
    from core.media.mp4 import Mp4Writer
    from provenance.engine.media_io import iter_audio, iter_frames, video_info

    info = video_info(source)
    embedder = WatermarkEmbedder(
        key=key,
        content_id=content_id,
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        strength=strength,
    )
    squared_error, samples, frames = 0.0, 0, 0
    with Mp4Writer(
        dest, width=info.width, height=info.height, fps=info.rate, with_audio=info.has_audio, crf=crf
    ) as writer:
        for rgb in iter_frames(source, max_seconds=None):
            marked = embedder.embed(rgb)
            diff = marked.astype(np.float32) - rgb.astype(np.float32)
            squared_error += float(np.sum(diff * diff))
            samples += diff.size
            writer.write_frame(marked)
            frames += 1
        if info.has_audio:
            for chunk in iter_audio(source):
                writer.write_audio(chunk)
    mse = squared_error / max(samples, 1)
    return EmbedResult(Path(dest), frames, psnr(mse))


def psnr(mse: float) -> float:
    """PSNR in dB for 8-bit content from a mean squared error."""
    return float("inf") if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)


def false_positive_bound(*, threshold: float = SYNC_THRESHOLD, still: bool = False) -> float:
    """Upper bound on the chance that an unmarked clip (or, with `still`, image) yields an id.

    Under the null hypothesis each point of a sync surface is approximately normal (a sum of
    hundreds of unit phasors with independent random phases). The static search reports a
    Gaussian z-score (tail Q(T)). The carrier search reports the whitened magnitude of its
    surfaces: over whole periods a pair with 2 degrees of freedom (Rayleigh tail exp(-T^2/2));
    on a still, one surface, read with either sign (tail 2 Q(T)). A false id needs some surface
    point over the threshold (union bound over the searches, every scale and every shift) *and*
    the 16 CRC bits to match the 64 id bits decoded beside them (2^-16; the sync and payload bins
    are disjoint, so under the null the two events are independent).

    A video shorter than one carrier period gets both searches with up to 2 degrees of freedom,
    which the video bound covers.
    """
    hypotheses = (int(round(MAX_CROP / SCALE_STEP)) + 1) * TILE * TILE
    gaussian_tail = 0.5 * math.erfc(threshold / math.sqrt(2.0))
    carrier_tail = 2.0 * gaussian_tail if still else math.exp(-threshold * threshold / 2.0)
    return min(1.0, hypotheses * (gaussian_tail + carrier_tail)) * 2.0**-CRC_BITS
