"""Temporal and audio-visual consistency: lip-sync, identity drift and blending flicker.

All three follow the main (largest) face through every frame. Face landmarks come from the
sampled frames (a few per second) and are interpolated in between, and each frame's face is cut
out in a pose-normalised ("canonical") grey crop, as the consent statement check does:

* **lip-sync**: mouth change beyond eye change between consecutive crops (speech moves the mouth,
  a moved or re-encoded picture changes everywhere alike), correlated with the change of speech
  loudness: the change-based measure of `bench/avatar_quality.py`, best within ±2 frames. The
  controls are the same two series 4-12 frames apart: in genuine footage the correlation peaks
  at (near) zero offset; a dub or a generated mouth that only follows the rhythm of the speech
  does not beat the nearby offsets by much. The score comes from how many control standard
  deviations the zero-offset alignment stands above them.
* **identity drift**: distances between consecutive 128-d face embeddings of the main face; a
  swap that fails now and then lets the other identity through.
* **blending flicker**: the brightness step between the inner face and a ring around it, frame by
  frame; a face pasted with per-frame colour correction makes that step jitter while lighting
  changes move both sides together. Measured as the median deviation from the average of the
  neighbouring frames (as `bench/avatar_quality.py`'s `landmark_jitter` does for landmarks).

The score curves (logistic, not fitted to evaluation data) are centred on levels measured on
real talking clips (`../shared/media/talking`, see each constant); `accuracy.json` holds what
they achieve on named data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from avatars.engine.speech import SAMPLE_RATE, speech_energy
from core.media.faces import CANONICAL_POINTS, similarity_to
from detection.engine.media import AUDIO_RATE
from detection.engine.results import Analyzer, AnalyzerResult, Evidence, TimeRange, clamp01, logistic

_PX = 40  # canonical crop pixels per face unit (outer-eye distance)
_LEFT, _TOP, _RIGHT, _BOTTOM = -1.0, -0.7, 1.0, 1.6
_SIZE = (int((_RIGHT - _LEFT) * _PX), int((_BOTTOM - _TOP) * _PX))


def _region(top: float, bottom: float, left: float, right: float) -> tuple[slice, slice]:
    return (
        slice(int((top - _TOP) * _PX), int((bottom - _TOP) * _PX)),
        slice(int((left - _LEFT) * _PX), int((right - _LEFT) * _PX)),
    )


_MOUTH = _region(0.7, 1.35, -0.55, 0.55)
_EYES = _region(-0.3, 0.3, -0.75, 0.75)
_FACE = _region(-0.5, 1.35, -0.75, 0.75)


def _ellipse_masks() -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    yy, xx = np.mgrid[0 : _SIZE[1], 0 : _SIZE[0]].astype(np.float64)
    x = xx / _PX + _LEFT
    y = yy / _PX + _TOP
    # The inner face (eyes to chin) and a band just outside the usual blending edge.
    radius = np.sqrt((x / 0.62) ** 2 + ((y - 0.45) / 0.95) ** 2)
    return radius < 0.8, (radius > 1.05) & (radius < 1.35)


_INNER, _RING = _ellipse_masks()

#: Lip-sync: z-score of the own alignment against the far-offset controls. The 14 real talking
#: clips measure 0.7-3.7 with their own sound, and 1.05 (median) with another clip's sound; a
#: lower z means less sync, and 0.5 sits below every real clip.
LIP_SYNC_CENTRE = 0.5
LIP_SYNC_WIDTH = 0.4
LIP_SYNC_MAX_OFFSET = 2
LIP_SYNC_CONTROL = (4, 12)
#: At least this many frame pairs with a face and speech before lip-sync says anything (2 s).
LIP_SYNC_MIN_PAIRS = 50
#: Identity drift: 90th percentile of consecutive embedding distances. The 14 real talking clips
#: measure 0.16-0.32; the centre sits above them.
DRIFT_CENTRE = 0.4
DRIFT_WIDTH = 0.04
#: Blending flicker: median second difference of the inner-minus-ring brightness step, in face
#: contrast units. The 14 real talking clips measure 0.0018-0.0094; the centre sits above them.
FLICKER_CENTRE = 0.02
FLICKER_WIDTH = 0.004


def canonical_crop(luma: NDArray[np.uint8], points: NDArray[np.float64]) -> NDArray[np.float32]:
    """The face in a pose-normalised grey crop (eye distance = `_PX` pixels), lightly blurred."""
    import cv2

    target = (CANONICAL_POINTS - [_LEFT, _TOP]) * _PX
    crop = cv2.warpAffine(
        luma, similarity_to(points, target), _SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # Blurring removes sensor and codec grain, which would otherwise count as motion.
    return np.asarray(cv2.GaussianBlur(crop.astype(np.float32), (5, 5), 1.0), dtype=np.float32)


@dataclass
class FaceMotionTracker:
    """Per-frame mouth motion and blend step of the main face, fed every decoded frame.

    Frames wait in a short buffer until the next sampled frame's landmarks arrive; their
    landmarks are then interpolated between the two samples. Frames before the first or after
    the last face, or between samples without a face, count as "no face" (NaN).
    """

    fps: float
    mouth_motion: list[float] = field(default_factory=list)
    blend_step: list[float] = field(default_factory=list)
    _pending: list[NDArray[np.uint8]] = field(default_factory=list)
    _anchor: NDArray[np.float64] | None = None
    _previous: NDArray[np.float32] | None = None

    def add_frame(self, luma: NDArray[np.uint8]) -> None:
        """Queue a frame that has no landmarks of its own."""
        self._pending.append(luma)

    def add_sample(self, luma: NDArray[np.uint8], points: NDArray[np.float64] | None) -> None:
        """A sampled frame with its main face's landmarks (None: no face)."""
        if points is not None and self._anchor is not None:
            steps = len(self._pending) + 1
            for k, pending in enumerate(self._pending, start=1):
                self._measure(pending, self._anchor + (points - self._anchor) * (k / steps))
        else:
            for _ in self._pending:
                self._measure(None, None)
        self._pending.clear()
        self._measure(luma if points is not None else None, points)
        self._anchor = points

    def finish(self) -> None:
        """Frames after the last sample keep the last landmarks (at most one sample interval)."""
        for pending in self._pending:
            self._measure(pending if self._anchor is not None else None, self._anchor)
        self._pending.clear()

    def _measure(self, luma: NDArray[np.uint8] | None, points: NDArray[np.float64] | None) -> None:
        if luma is None or points is None:
            self.mouth_motion.append(math.nan)
            self.blend_step.append(math.nan)
            self._previous = None
            return
        crop = canonical_crop(luma, points)
        contrast = float(crop[_FACE].std()) + 1e-6
        self.blend_step.append((float(crop[_INNER].mean()) - float(crop[_RING].mean())) / contrast)
        if self._previous is None:
            self.mouth_motion.append(math.nan)
        else:
            residual = np.abs(crop - self._previous)
            self.mouth_motion.append(float(residual[_MOUTH].mean() - residual[_EYES].mean()) / contrast)
        self._previous = crop


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < 8:
        return math.nan
    x, y = a[valid] - a[valid].mean(), b[valid] - b[valid].mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else math.nan


def _correlation_at(motion: NDArray[np.float64], loudness: NDArray[np.float64], shift: int) -> float:
    """Correlation of mouth motion at frame t with loudness change at frame t + shift."""
    if shift >= 0:
        return _correlation(motion[: len(motion) - shift], loudness[shift:])
    return _correlation(motion[-shift:], loudness[: len(loudness) + shift])


def _best_offset_correlation(motion: NDArray[np.float64], loudness: NDArray[np.float64]) -> float:
    values = [
        _correlation_at(motion, loudness, k) for k in range(-LIP_SYNC_MAX_OFFSET, LIP_SYNC_MAX_OFFSET + 1)
    ]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def loudness_change(samples: NDArray[np.float32], fps: float, frames: int) -> NDArray[np.float64]:
    """|change of speech energy| between consecutive video frames (16 kHz input)."""
    # speech_energy works at the render engine's 48 kHz; giving it a frame rate scaled
    # by the same factor makes its hop (SAMPLE_RATE / fps) the right number of 16 kHz samples.
    energy = speech_energy(samples, fps * SAMPLE_RATE / AUDIO_RATE, frames)
    change: NDArray[np.float64] = np.abs(np.diff(energy))
    return change


@dataclass(frozen=True)
class LipSyncMeasure:
    """Own alignment, the shifted-audio controls, and how far the own one stands out (z)."""

    own: float
    control_mean: float
    control_std: float
    z: float
    pairs: int


def lip_sync_measure(motion: NDArray[np.float64], loudness: NDArray[np.float64]) -> LipSyncMeasure | None:
    """Correlate mouth motion with loudness change near zero offset, against far offsets.

    Own alignment: the best correlation within ±`LIP_SYNC_MAX_OFFSET` frames. Controls: the
    same series `LIP_SYNC_CONTROL` frames apart (0.16-0.5 s at 25 fps), where speech rhythm
    still lines up by chance but articulation no longer does. (SyncNet judges audio-visual
    offsets the same way.)
    """
    length = min(len(motion), len(loudness))
    motion, loudness = motion[:length], loudness[:length]
    pairs = int((np.isfinite(motion) & np.isfinite(loudness)).sum())
    if pairs < LIP_SYNC_MIN_PAIRS or float(np.nanstd(loudness)) == 0:
        return None
    own = _best_offset_correlation(motion, loudness)
    near, far = LIP_SYNC_CONTROL
    controls = [_correlation_at(motion, loudness, k) for k in range(-far, far + 1) if near <= abs(k) <= far]
    controls = [c for c in controls if math.isfinite(c)]
    if not math.isfinite(own) or len(controls) < 4:
        return None
    mean, std = float(np.mean(controls)), float(np.std(controls)) + 0.02
    return LipSyncMeasure(own, mean, std, (own - mean) / std, pairs)


def lip_sync_result(
    tracker: FaceMotionTracker, samples: NDArray[np.float32] | None, *, window: float = 6.0
) -> AnalyzerResult:
    """Lip-sync inconsistency: high when the mouth follows the sound no better than shifted sound."""
    from detection.engine.accuracy import accuracy_of

    name = Analyzer.LIP_SYNC.value
    accuracy = accuracy_of(Analyzer.LIP_SYNC)
    threshold = 0.5
    if samples is None:
        return AnalyzerResult(
            name, 0.0, False, threshold, accuracy=accuracy, skipped="The file has no sound."
        )
    motion = np.asarray(tracker.mouth_motion, dtype=np.float64)
    loudness = loudness_change(samples, tracker.fps, len(motion) + 1)
    whole = lip_sync_measure(motion, loudness)
    if whole is None:
        return AnalyzerResult(
            name,
            0.0,
            False,
            threshold,
            accuracy=accuracy,
            skipped="Too little of a speaking face to compare with the sound.",
        )
    score = clamp01(logistic((LIP_SYNC_CENTRE - whole.z) / LIP_SYNC_WIDTH))
    timeline: list[tuple[float, float]] = []
    evidence: list[Evidence] = []
    span = int(round(window * tracker.fps))
    if len(motion) >= 2 * span:
        for start in range(0, len(motion) - span + 1, span // 2):
            part = lip_sync_measure(motion[start : start + span], loudness[start : start + span])
            if part is None:
                continue
            part_score = logistic((LIP_SYNC_CENTRE - part.z) / LIP_SYNC_WIDTH)
            begin = start / tracker.fps
            timeline.append((begin + window / 2, part_score))
            if part_score >= threshold:
                evidence.append(
                    Evidence(
                        note=f"Mouth and speech do not match at {begin:.1f}-{begin + window:.1f} s "
                        f"(z {part.z:.1f} against shifted sound).",
                        time_range=TimeRange(begin, begin + window),
                        score=part_score,
                    )
                )
    if score >= threshold and not evidence:
        evidence.append(
            Evidence(
                note=f"The mouth follows the speech no better than shifted speech (z {whole.z:.1f}; real clips 1.5 or more).",
                time_range=TimeRange(0.0, len(motion) / tracker.fps),
                score=score,
            )
        )
    return AnalyzerResult(
        name,
        score,
        False,
        threshold,
        evidence=tuple(evidence),
        accuracy=accuracy,
        timeline=tuple(timeline),
        details={
            "correlation": whole.own,
            "control_mean": whole.control_mean,
            "control_std": whole.control_std,
            "z": whole.z,
            "frame_pairs": whole.pairs,
        },
    )


def second_difference_jitter(series: NDArray[np.float64]) -> float:
    """Median |x_t - (x_{t-1} + x_{t+1}) / 2| over finite triples: trembling, not slow drift."""
    if len(series) < 3:
        return math.nan
    residual = np.abs(series[1:-1] - (series[:-2] + series[2:]) / 2)
    residual = residual[np.isfinite(residual)]
    return float(np.median(residual)) if len(residual) >= 5 else math.nan


def flicker_result(tracker: FaceMotionTracker) -> AnalyzerResult:
    """Blending flicker: high when the face's brightness step to its surroundings jitters."""
    from detection.engine.accuracy import accuracy_of

    name = Analyzer.BLENDING_FLICKER.value
    accuracy = accuracy_of(Analyzer.BLENDING_FLICKER)
    steps = np.asarray(tracker.blend_step, dtype=np.float64)
    jitter = second_difference_jitter(steps)
    if not math.isfinite(jitter):
        return AnalyzerResult(name, 0.0, False, 0.5, accuracy=accuracy, skipped="Too few frames with a face.")
    score = logistic((jitter - FLICKER_CENTRE) / FLICKER_WIDTH)
    timeline: list[tuple[float, float]] = []
    evidence: list[Evidence] = []
    span = max(5, int(round(2.0 * tracker.fps)))
    for start in range(0, len(steps) - span + 1, span):
        part = second_difference_jitter(steps[start : start + span])
        if math.isfinite(part):
            part_score = logistic((part - FLICKER_CENTRE) / FLICKER_WIDTH)
            begin = start / tracker.fps
            timeline.append((begin + span / tracker.fps / 2, part_score))
            if part_score >= 0.5:
                evidence.append(
                    Evidence(
                        note=f"The face's brightness against its surroundings flickers at {begin:.1f}-{begin + span / tracker.fps:.1f} s.",
                        time_range=TimeRange(begin, begin + span / tracker.fps),
                        score=part_score,
                    )
                )
    return AnalyzerResult(
        name,
        clamp01(score),
        False,
        0.5,
        evidence=tuple(evidence[:5]),
        accuracy=accuracy,
        timeline=tuple(timeline),
        details={"jitter": jitter, "frames_with_face": int(np.isfinite(steps).sum())},
    )


def drift_result(embeddings: list[tuple[float, NDArray[np.float64]]]) -> AnalyzerResult:
    """Identity drift: high when the main face's identity jumps between sampled frames."""
    from detection.engine.accuracy import accuracy_of

    name = Analyzer.IDENTITY_DRIFT.value
    accuracy = accuracy_of(Analyzer.IDENTITY_DRIFT)
    if len(embeddings) < 3:
        return AnalyzerResult(
            name, 0.0, False, 0.5, accuracy=accuracy, skipped="Too few sampled frames of one face."
        )
    times = [t for t, _ in embeddings]
    steps = np.array(
        [float(np.linalg.norm(b - a)) for (_, a), (_, b) in zip(embeddings, embeddings[1:], strict=False)]
    )
    level = float(np.quantile(steps, 0.9))
    score = logistic((level - DRIFT_CENTRE) / DRIFT_WIDTH)
    timeline = tuple((times[i + 1], logistic((d - DRIFT_CENTRE) / DRIFT_WIDTH)) for i, d in enumerate(steps))
    evidence = tuple(
        Evidence(
            note=f"The face's identity jumps by {d:.2f} between {times[i]:.1f} s and {times[i + 1]:.1f} s (real video: under {DRIFT_CENTRE:.2f}).",
            time_range=TimeRange(times[i], times[i + 1]),
            score=logistic((d - DRIFT_CENTRE) / DRIFT_WIDTH),
        )
        for i, d in sorted(enumerate(steps), key=lambda item: -item[1])[:3]
        if d >= DRIFT_CENTRE
    )
    return AnalyzerResult(
        name,
        clamp01(score),
        False,
        0.5,
        evidence=evidence,
        accuracy=accuracy,
        timeline=timeline,
        details={"p90_step": level, "median_step": float(np.median(steps)), "embeddings": len(embeddings)},
    )
