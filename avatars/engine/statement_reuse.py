"""Is a consent statement a re-use of material the platform already has?

A statement must be a new recording. The service compares SHA-256 digests itself; this module
compares what survives a re-encode, a trim or a different container:

* the picture, with the provenance engine's perceptual video fingerprint (128-bit DCT hashes at
  2 per second; the same index that finds copies of published videos);
* the sound, with a small audio fingerprint (Haitsma-Kalker style: 16 bits per 16 ms frame, the
  signs of band-energy differences over time and frequency), compared at the best time offset by
  bit error rate. The same recording, re-encoded, stays far below `MAX_AUDIO_BIT_ERRORS`; a new
  recording of the same voice reading the same words sits near one half, like unrelated audio.

The sound is compared with every reference that has sound, so the clinician's real voice laid
under someone else's face (a face swap with the enrollment's audio) is caught as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import MediaInputError
from avatars.engine.media import read_audio
from avatars.engine.speech import SAMPLE_RATE

_FRAME = 2048
_HOP = 256  # 16 ms
_BANDS = 17  # 16 difference bits per frame
_LOW_HZ, _HIGH_HZ = 300.0, 3000.0
#: Share of differing bits at the best offset under which two sounds are one recording: re-encodes
#: of real talking clips (H.264 + AAC, crf 23-35) measure 0.05-0.06, unrelated real speech 0.465
#: and more (every pair of the GRID and retalking clips); figures in bench-statement.md.
MAX_AUDIO_BIT_ERRORS = 0.25
#: A picture match counts only when the matched hashes are this close on average (of 128 bits):
#: the provenance index also matches a new take of the same framing (halves of one clip measured
#: 4.7-14), while re-encodes of the same recording measure 0.6-3.7.
MAX_PICTURE_MEAN_DISTANCE = 4.0
#: The overlap at the best offset must cover this much of the shorter sound (and 2 s at least).
MIN_OVERLAP_SHARE = 0.5
MIN_OVERLAP_SECONDS = 2.0
#: Silent frames carry no information (every bit is noise); they are left out of the count.
_SILENT_ENERGY = 1e-7


@dataclass(frozen=True)
class AudioFingerprint:
    """16-bit codes per 16 ms frame and which frames have sound."""

    codes: NDArray[np.uint16]
    voiced: NDArray[np.bool_]


def audio_fingerprint(samples: NDArray[np.float32]) -> AudioFingerprint:
    """The fingerprint of mono audio at the engine's sample rate."""
    if len(samples) < _FRAME + _HOP:
        return AudioFingerprint(np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=bool))
    frames = np.lib.stride_tricks.sliding_window_view(samples, _FRAME)[::_HOP].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_FRAME), axis=1)) ** 2
    frequencies = np.fft.rfftfreq(_FRAME, 1.0 / SAMPLE_RATE)
    edges = np.geomspace(_LOW_HZ, _HIGH_HZ, _BANDS + 1)
    energy = np.stack(
        [
            spectrum[:, (frequencies >= lo) & (frequencies < hi)].sum(axis=1)
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ],
        axis=1,
    )
    across = np.diff(energy, axis=1)  # (frames, 16)
    bits = (across[1:] - across[:-1]) > 0
    weights = (1 << np.arange(_BANDS - 1)).astype(np.uint32)
    codes = (bits.astype(np.uint32) @ weights).astype(np.uint16)
    voiced = energy[1:].sum(axis=1) > _SILENT_ENERGY
    return AudioFingerprint(codes, voiced)


def audio_bit_errors(query: AudioFingerprint, reference: AudioFingerprint) -> float:
    """The smallest share of differing bits over every offset with enough overlap (1.0: none)."""
    n, m = len(query.codes), len(reference.codes)
    needed = max(int(MIN_OVERLAP_SHARE * min(n, m)), int(MIN_OVERLAP_SECONDS * SAMPLE_RATE / _HOP))
    if min(n, m) < needed or needed == 0:
        return 1.0
    best = 1.0
    for offset in range(-(n - needed), m - needed + 1):
        q0, r0 = max(0, -offset), max(0, offset)
        length = min(n - q0, m - r0)
        voiced = query.voiced[q0 : q0 + length] & reference.voiced[r0 : r0 + length]
        count = int(voiced.sum())
        if count < needed:
            continue
        differing = np.bitwise_count(
            query.codes[q0 : q0 + length][voiced] ^ reference.codes[r0 : r0 + length][voiced]
        )
        best = min(best, float(differing.sum()) / (count * (_BANDS - 1)))
    return best


@dataclass(frozen=True)
class ReuseReference:
    """Earlier material of the clinician: a label for the reviewer and the file."""

    label: str
    path: Path


@dataclass(frozen=True)
class ReuseMatch:
    """One reference the statement re-uses, and by which measure."""

    label: str
    measure: str  # "picture" or "sound"
    value: float  # matched samples (picture) or bit error rate (sound)


@dataclass(frozen=True)
class ReuseResult:
    """The statement's comparison with every reference; it passes when nothing matched."""

    matches: tuple[ReuseMatch, ...]
    closest_audio_bit_errors: float
    references: int

    @property
    def passed(self) -> bool:
        """True when no reference matched in picture or sound."""
        return not self.matches


def _sound(path: Path) -> NDArray[np.float32] | None:
    try:
        return read_audio(path)
    except MediaInputError as error:
        if error.code == "audio_missing":
            return None
        raise


def _is_video(path: Path) -> bool:
    from provenance.engine.errors import ProvenanceError
    from provenance.engine.media_io import video_info

    try:
        video_info(path)
    except ProvenanceError:
        return False
    return True


def check_reuse(statement: Path, references: Sequence[ReuseReference]) -> ReuseResult:
    """Compare the statement's picture and sound with every reference (videos and voice samples)."""
    from provenance.engine.fingerprint import FingerprintIndex, fingerprint_video

    matches: list[ReuseMatch] = []
    index = FingerprintIndex()
    for reference in references:
        if _is_video(reference.path):
            index.add(reference.label, fingerprint_video(reference.path))
    if len(index):
        found = index.match(fingerprint_video(statement, for_query=True))
        if found is not None and found.mean_distance <= MAX_PICTURE_MEAN_DISTANCE:
            matches.append(ReuseMatch(found.video_id, "picture", float(found.votes)))
    closest = 1.0
    sound = _sound(statement)
    if sound is not None:
        query = audio_fingerprint(sound)
        for reference in references:
            other = _sound(reference.path)
            if other is None:
                continue
            errors = audio_bit_errors(query, audio_fingerprint(other))
            closest = min(closest, errors)
            if errors <= MAX_AUDIO_BIT_ERRORS:
                matches.append(ReuseMatch(reference.label, "sound", errors))
    return ReuseResult(tuple(matches), closest, len(references))
