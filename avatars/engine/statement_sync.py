"""Do the lips form the sounds the voice makes? Audio-visual sync at the phoneme level, for consent
statements (issue 12, item 4).

The statement's expected text is read by the synthesizer and aligned with the recording (the same
MFCC + DTW alignment as `avatars.engine.align.align_to_script`), which gives every phoneme its time
in the recording. Each phoneme's viseme says how open the mouth should be (`VISEME_SHAPES`): a
closed m/b/p, a wide open vowel. The face mesh measures how open the mouth really is in every frame
(inner-lip gap over face height, `avatars.engine.quality.track_video`). The score is the
correlation of the two curves over the spoken part, at the best lag within a few frames (reported).

Lip-sync by loudness alone (the identity check's liveness) is fooled by any mouth that moves while
someone speaks. Here a mouth that moves with other words (a dub, or a face swap whose donor said
something else while the voice laid under says the statement) opens at the wrong phonemes. The
threshold and its measured error rates: BENCHMARKS.md (consent statements, "Phoneme sync"),
reproduced by `bench/statement_sync.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.speech import SpeechTrack
from avatars.engine.visemes import VISEME_SHAPES

#: NOT a chosen threshold and NOT wired into the statement decision: measured on GRID
#: (bench/statement_sync.py, BENCHMARKS.md) genuine clips score 0.30-0.73 and dubs/face swaps up to
#: 0.63, so no threshold separates them; kept as a measured negative result for the next attempt.
MIN_PHONEME_SYNC = 0.2
#: Lags tried, in frames either way (±3 frames = ±120 ms at 25 fps: recorders and codecs shift
#: sound against picture by up to about that much).
MAX_LAG_FRAMES = 3
#: Seconds of silence kept either side of the spoken part.
MARGIN_SECONDS = 0.2
#: Fewest frames with a face inside the spoken part for a score.
MIN_FRAMES = 25
#: Longest stretch of a statement examined (the mesh runs on every frame).
MAX_SECONDS = 60.0


@dataclass(frozen=True)
class PhonemeSync:
    """The score (None when it cannot be measured), its lag in frames, and what was measured."""

    score: float | None
    lag_frames: int
    frames: int
    threshold: float
    reason: str = ""

    @property
    def passed(self) -> bool:
        """Whether the lips follow the phonemes closely enough."""
        return self.score is not None and self.score >= self.threshold


def expected_opening(track: SpeechTrack, fps: float, frame_count: int) -> NDArray[np.float64]:
    """How open the mouth should be in each frame: the overlap-weighted opening of the visemes of the
    phonemes under it (rest where none), lightly smoothed for coarticulation."""
    opening = np.zeros(frame_count, dtype=np.float64)
    weights = np.zeros(frame_count, dtype=np.float64)
    frame = 1.0 / fps
    for phoneme in track.phonemes:
        shape = VISEME_SHAPES[phoneme.viseme]
        first, last = max(0, int(phoneme.start * fps)), min(frame_count - 1, int(phoneme.end * fps))
        for index in range(first, last + 1):
            overlap = min(phoneme.end, (index + 1) * frame) - max(phoneme.start, index * frame)
            if overlap > 0:
                opening[index] += overlap * shape.open
                weights[index] += overlap
    covered = weights > 0
    opening[covered] /= weights[covered]
    padded = np.pad(opening, 1, mode="edge")
    return np.asarray(np.convolve(padded, [0.25, 0.5, 0.25], mode="valid"), dtype=np.float64)


def _correlation(first: NDArray[np.float64], second: NDArray[np.float64]) -> float:
    valid = np.isfinite(first) & np.isfinite(second)
    if valid.sum() < MIN_FRAMES:
        return math.nan
    x, y = first[valid] - first[valid].mean(), second[valid] - second[valid].mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else math.nan


def sync_score(
    openings: NDArray[np.float64],
    fps: float,
    samples: NDArray[np.float32],
    text: str,
    *,
    threshold: float = MIN_PHONEME_SYNC,
) -> PhonemeSync:
    """Score measured per-frame mouth openings (NaN without a face) against `text` as `samples` say it."""
    from avatars.engine.align import align_to_script

    track = align_to_script(samples, text)
    if not track.phonemes:
        return PhonemeSync(None, 0, 0, threshold, "no phonemes to align")
    count = len(openings)
    expected = expected_opening(track, fps, count)
    start = max(0, int((min(p.start for p in track.phonemes) - MARGIN_SECONDS) * fps))
    end = min(count, int(math.ceil((max(p.end for p in track.phonemes) + MARGIN_SECONDS) * fps)))
    measured = np.asarray(openings, dtype=np.float64)
    frames = int(np.isfinite(measured[start:end]).sum())
    best, best_lag = -math.inf, 0
    for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1):
        # lag > 0: the picture comes `lag` frames after the sound.
        low, high = max(start, -lag, 0), min(end, count - lag, count)
        if high - low < MIN_FRAMES:
            continue
        value = _correlation(measured[low + lag : high + lag], expected[low:high])
        if math.isfinite(value) and value > best:
            best, best_lag = value, lag
    if not math.isfinite(best):
        return PhonemeSync(None, 0, frames, threshold, "the face was not seen long enough while speaking")
    return PhonemeSync(best, best_lag, frames, threshold)


def phoneme_sync(path: Path, text: str, *, threshold: float = MIN_PHONEME_SYNC) -> PhonemeSync:
    """Measure a recording's mouth against the phonemes of `text` as its sound says them."""
    from avatars.engine.media import read_audio
    from avatars.engine.quality import track_video

    face = track_video(path, max_seconds=MAX_SECONDS)
    samples = read_audio(path)
    return sync_score(face.openings, face.fps, samples, text, threshold=threshold)
