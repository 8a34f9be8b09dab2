"""What the analyzers return: a calibrated score, evidence, and a reference to measured accuracy.

Plain frozen dataclasses (numpy arrays only inside `Evidence.heatmap`), so the Django side can
store them as JSON rows and files without knowing how each analyzer works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: `progress(fraction, stage)`: fraction in [0, 1], stage a short machine-readable word. It may
#: raise `ScanCancelled` (or any `EngineError`) to stop the scan.
Progress = Callable[[float, str], None]


class Analyzer(StrEnum):
    """Every analyzer the engine has; the value is the name stored with a result."""

    PROVENANCE = "provenance"
    FACE_IDENTITY = "face_identity"
    VOICE_IDENTITY = "voice_identity"
    VISUAL_MANIPULATION = "visual_manipulation"
    LIP_SYNC = "lip_sync"
    IDENTITY_DRIFT = "identity_drift"
    BLENDING_FLICKER = "blending_flicker"
    SYNTHETIC_SPEECH = "synthetic_speech"


#: Analyzers whose positive finding is evidence of manipulation (as opposed to who is depicted, or
#: where the file came from).
MANIPULATION_ANALYZERS = frozenset(
    {
        Analyzer.VISUAL_MANIPULATION,
        Analyzer.LIP_SYNC,
        Analyzer.IDENTITY_DRIFT,
        Analyzer.BLENDING_FLICKER,
        Analyzer.SYNTHETIC_SPEECH,
    }
)
IDENTITY_ANALYZERS = frozenset({Analyzer.FACE_IDENTITY, Analyzer.VOICE_IDENTITY})


@dataclass(frozen=True)
class TimeRange:
    """A span of the media in seconds (an image is the range 0-0)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: where it is, what it shows, and optionally a picture of it.

    `heatmap` (float32 in [0, 1], the face crop's shape) marks the regions the analyzer found
    suspicious; `image_png` is that crop with the heatmap drawn over it, ready for a result page.
    """

    note: str
    time_range: TimeRange | None = None
    frame_index: int | None = None
    score: float | None = None
    subject_id: str = ""
    heatmap: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    image_png: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class Accuracy:
    """An analyzer's measured accuracy on named data, as stored in `accuracy.json` by the bench.

    `figures` hold the numbers (e.g. {"roc_auc": 0.81, "tpr_at_1pct_fpr": 0.2}); `summary` says
    them in a sentence for a result page; `limits` says what the figure does not cover; `notes`
    hold per-file details of the measurement.
    """

    analyzer: str
    summary: str
    figures: Mapping[str, float]
    data: str
    command: str
    limits: str
    measured_on: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubjectMatch:
    """An enrolled person an identity analyzer found, with when and how surely.

    `score` is the calibrated probability that the person is depicted (face) or speaking (voice);
    `distance` is the best raw distance seen (face: Euclidean on dlib's scale; voice: 1 - cosine).
    """

    subject_id: str
    label: str
    score: float
    distance: float
    time_ranges: tuple[TimeRange, ...] = ()
    observations: int = 0


@dataclass(frozen=True)
class AnalyzerResult:
    """What one analyzer concluded about one file.

    `score` is in [0, 1]; `threshold` is the score from which the analyzer counts its finding as
    positive (`flagged`). `calibrated` says whether the score is a fitted probability (True) or a
    monotone rescaling of a raw measure (False). `skipped` is non-empty when there was nothing to
    measure (no face, no speech); the score is then 0 and means nothing.
    """

    name: str
    score: float
    calibrated: bool
    threshold: float
    evidence: tuple[Evidence, ...] = ()
    accuracy: Accuracy | None = None
    timeline: tuple[tuple[float, float], ...] = ()
    subjects: tuple[SubjectMatch, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    skipped: str = ""

    @property
    def flagged(self) -> bool:
        """True when the analyzer measured something and its score reaches its threshold."""
        return not self.skipped and self.score >= self.threshold

    @property
    def best_subject(self) -> SubjectMatch | None:
        """The most likely enrolled person, if any was found."""
        return max(self.subjects, key=lambda s: s.score, default=None)


@dataclass(frozen=True)
class ScanResult:
    """Every analyzer's result for one file, plus how the scan went.

    `timings` are wall-clock seconds per stage (decode, faces, each analyzer), for benchmarks.
    """

    kind: str
    duration: float | None
    results: tuple[AnalyzerResult, ...]
    frames_decoded: int = 0
    frames_sampled: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)

    def result(self, name: str) -> AnalyzerResult | None:
        """The result of the named analyzer, or None when it did not run."""
        return next((r for r in self.results if r.name == name), None)

    @property
    def timeline(self) -> dict[str, tuple[tuple[float, float], ...]]:
        """Per-analyzer (seconds, score) series for a score-over-time plot."""
        return {r.name: r.timeline for r in self.results if r.timeline}


def clamp01(value: float) -> float:
    """`value` limited to [0, 1] (NaN becomes 0)."""
    if not np.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, value)))


def logistic(value: float) -> float:
    """The logistic function, safe for large magnitudes."""
    if value >= 0:
        return float(1.0 / (1.0 + np.exp(-value)))
    exp = float(np.exp(value))
    return exp / (1.0 + exp)


def merge_times(times: list[float], *, gap: float, pad: float) -> tuple[TimeRange, ...]:
    """Group sorted sample times into ranges; samples closer than `gap` join one range.

    Each range is widened by `pad` on both sides (half a sampling interval: a sample stands for
    the time around it), never below zero.
    """
    ranges: list[TimeRange] = []
    for time in sorted(times):
        if ranges and time - (ranges[-1].end - pad) <= gap:
            ranges[-1] = TimeRange(ranges[-1].start, time + pad)
        else:
            ranges.append(TimeRange(max(0.0, time - pad), time + pad))
    return tuple(ranges)
