"""Timing for recorded narration: align the recording to its script by dynamic time warping.

The script is spoken by the offline synthesizer, whose phoneme and word times are known; both
recordings become MFCC sequences (50 per second, each normalised to its own mean and spread, which
removes most of the difference between two voices), and a banded DTW finds the monotone mapping
between them. The synthesizer's times, carried through that mapping, become the recording's
phoneme and word times: visemes and captions for the clinician's own voice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from avatars.engine.speech import SAMPLE_RATE, Phoneme, SpeechTrack, Word, synthesize

FRAME_RATE = 50
_WINDOW = 2 * SAMPLE_RATE // FRAME_RATE  # 40 ms windows, 20 ms apart
_HOP = SAMPLE_RATE // FRAME_RATE
_MEL_BANDS = 26
_COEFFICIENTS = 13
#: The warping path may stray from the straight line between the two recordings' ends by this share
#: of the longer one (at least 3 s): enough for a reader who pauses differently from the script's
#: synthetic rendition. The band is what is stored: 4 bytes x 10% of frames^2, so a 10-minute
#: narration (30,000 frames) holds about 360 MB while it is aligned.
BAND_SHARE = 0.05
MIN_BAND_SECONDS = 3.0
PAD_SECONDS = 0.5


def _mel_filters(bins: int) -> NDArray[np.float64]:
    def to_mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges_mel = np.linspace(to_mel(np.array(60.0)), to_mel(np.array(7600.0)), _MEL_BANDS + 2)
    edges_hz = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    frequencies = np.linspace(0, SAMPLE_RATE / 2, bins)
    filters = np.zeros((_MEL_BANDS, bins))
    for band in range(_MEL_BANDS):
        low, centre, high = edges_hz[band : band + 3]
        rising = (frequencies - low) / (centre - low)
        falling = (high - frequencies) / (high - centre)
        filters[band] = np.clip(np.minimum(rising, falling), 0, None)
    return filters


def mfcc(samples: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per-utterance normalised MFCCs (without c0), one row per 20 ms."""
    if len(samples) < _WINDOW:
        samples = np.pad(samples, (0, _WINDOW - len(samples)))
    # A little fixed noise (about -60 dBFS) makes digital silence in the synthetic reading look like
    # the quiet room noise of a real recording; without it, the two silences are far apart.
    samples = samples + np.random.default_rng(0).normal(0.0, 1e-3, len(samples)).astype(np.float32)
    count = 1 + (len(samples) - _WINDOW) // _HOP
    frames = np.lib.stride_tricks.sliding_window_view(samples, _WINDOW)[::_HOP][:count].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_WINDOW), axis=1)) ** 2
    mel = np.log(spectrum @ _mel_filters(spectrum.shape[1]).T + 1e-10)
    bands = np.arange(_MEL_BANDS)
    dct = np.cos(np.pi / _MEL_BANDS * (bands[None, :] + 0.5) * np.arange(1, _COEFFICIENTS)[:, None])
    coefficients = mel @ dct.T
    spread = coefficients.std(axis=0)
    result: NDArray[np.float64] = (coefficients - coefficients.mean(axis=0)) / np.where(
        spread > 0, spread, 1.0
    )
    return result


def dtw_path(first: NDArray[np.float64], second: NDArray[np.float64]) -> NDArray[np.int64]:
    """Banded DTW between two feature sequences; returns matched (i, j) pairs, in order."""
    rows, columns = len(first), len(second)
    band = int(max(MIN_BAND_SECONDS * FRAME_RATE, BAND_SHARE * max(rows, columns)))
    starts = np.zeros(rows, dtype=np.int64)
    costs: list[NDArray[np.float32]] = []
    previous = np.zeros(0, dtype=np.float64)
    previous_start = 0
    for i in range(rows):
        centre = int(round(i * (columns - 1) / max(rows - 1, 1)))
        start, stop = max(0, centre - band), min(columns, centre + band + 1)
        local = np.linalg.norm(second[start:stop] - first[i], axis=1)
        # Best way in from the row above: straight down or diagonally.
        from_above = np.full(stop - start, np.inf)
        if i == 0:
            from_above[0] = 0.0 if start == 0 else np.inf
        else:
            shifted = np.arange(start, stop) - previous_start
            valid = (shifted >= 0) & (shifted < len(previous))
            from_above[valid] = previous[shifted[valid]]
            diagonal = shifted - 1
            valid_diagonal = (diagonal >= 0) & (diagonal < len(previous))
            from_above[valid_diagonal] = np.minimum(
                from_above[valid_diagonal], previous[diagonal[valid_diagonal]]
            )
        # Moves along the row: D[j] = min(A[j], D[j-1] + c[j]), solved as a running minimum.
        arrivals = local + from_above
        running = np.cumsum(local)
        row = running + np.minimum.accumulate(arrivals - running)
        starts[i] = start
        costs.append(row.astype(np.float32))
        previous, previous_start = row, start
    return _backtrack(costs, starts, columns)


def _backtrack(
    costs: list[NDArray[np.float32]], starts: NDArray[np.int64], columns: int
) -> NDArray[np.int64]:
    def cost(i: int, j: int) -> float:
        local = j - int(starts[i])
        return float(costs[i][local]) if 0 <= local < len(costs[i]) else float("inf")

    i, j = len(costs) - 1, columns - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        options = [(cost(i - 1, j - 1), i - 1, j - 1), (cost(i - 1, j), i - 1, j), (cost(i, j - 1), i, j - 1)]
        _, i, j = min((c, a, b) for c, a, b in options if a >= 0 and b >= 0)
        path.append((i, j))
    return np.array(path[::-1], dtype=np.int64)


def align_to_script(samples: NDArray[np.float32], script: str, *, language: str = "en") -> SpeechTrack:
    """The recording with phoneme and word times carried over from a synthetic reading of `script`."""
    reference = synthesize(script, language=language)
    # Silence around the synthetic reading gives the recording's own lead-in and tail something to
    # match; the synthesizer starts speaking within a few milliseconds.
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
    path = dtw_path(mfcc(samples), mfcc(np.concatenate([pad, reference.samples, pad])))
    recorded_seconds = path[:, 0] / FRAME_RATE
    reference_seconds = path[:, 1] / FRAME_RATE - PAD_SECONDS
    # A reference frame matched with a run of recorded frames (a pause the reader held longer) maps
    # onsets to the run's end and endings to its start, so speech is never stretched into silence.
    unique, first_index = np.unique(reference_seconds, return_index=True)
    last_index = np.append(first_index[1:], len(reference_seconds)) - 1
    onsets, endings = recorded_seconds[last_index], recorded_seconds[first_index]
    duration = len(samples) / SAMPLE_RATE

    def carry(seconds: float, targets: NDArray[np.float64]) -> float:
        return float(np.clip(np.interp(seconds, unique, targets), 0.0, duration))

    phonemes = [
        Phoneme(carry(p.start, onsets), carry(p.end, endings), p.symbol, p.viseme) for p in reference.phonemes
    ]
    words = tuple(Word(carry(w.start, onsets), carry(w.end, endings), w.text) for w in reference.words)
    return SpeechTrack(samples=samples, phonemes=tuple(p for p in phonemes if p.end > p.start), words=words)
