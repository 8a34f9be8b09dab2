"""Passive tampering evidence of a study with no signed record: every slice through every detector.

Each method has an operating threshold and its measured accuracy and limits (BENCHMARKS.md, DICOM
section), which travel with the evidence so the page can show them beside the scores. A slice is
suspect when any method's score is above its threshold; the study's verdict is "tampering evidence"
when any slice is suspect. The heatmap of a suspect slice is the largest of the flagged methods'
heatmaps at each pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from detection.engine.dicom.copy_move import copy_move, copy_move_between
from detection.engine.dicom.noise import noise_inconsistency


@dataclass(frozen=True)
class Method:
    """One passive detector as the product uses it: flagged when score > threshold."""

    name: str
    label: str
    threshold: float
    accuracy: str
    limits: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "limits": self.limits,
        }


COPY_MOVE = Method(
    "copy_move",
    "Copy-move within the slice",
    31.0,
    "On copy-move edits of 10 shared slices (128 px crops), each judged at a threshold set on the other "
    "sources: TPR 0.692 at FPR 0.016; ROC AUC 0.870 (bench/dicom_passive.py). On full-size untouched "
    "shared slices it flagged 2 of 132.",
    "Finds regions copied unchanged or lightly re-noised within one slice; misses rotated or scaled "
    "copies, copies of flat regions, and posterized images; repeated structures can raise the score.",
)
COPY_MOVE_PREVIOUS = Method(
    "copy_move_previous",
    "Copy-move from the previous slice",
    8.0,
    "ROC AUC 1.000 on copy-move edits between neighbouring frames of one ultrasound cine (29 pairs of "
    "each kind); one source only, an indication rather than a measurement.",
    "A copy to the same place of the next slice cannot be told from anatomy that continues; rotated or "
    "scaled copies are missed; slices of different sizes are not compared.",
)
NOISE = Method(
    "noise",
    "Noise inconsistency (splicing, inpainting)",
    10.75,
    "Weak. On splicing and inpainting edits of 10 shared slices, each judged at a threshold set on the "
    "other sources: TPR 0.139 at FPR 0.020 (splices 0.184, smoothed removals 0.176, noise-matched "
    "removals 0.056); ROC AUC 0.660 (bench/dicom_passive.py). On full-size untouched shared slices it "
    "flagged 9 of 132 (the threshold was set on 128 px crops).",
    "Misses pasted regions whose noise matches and removals to which noise of the right level was "
    "added; regions under about 16 px are diluted; quantized or lossy-compressed images have uneven "
    "noise and can raise the score.",
)
METHODS: tuple[Method, ...] = (COPY_MOVE, COPY_MOVE_PREVIOUS, NOISE)


@dataclass(frozen=True)
class SliceEvidence:
    number: int  # 0-based over every frame of the accepted instances, in viewing order
    scores: dict[str, float]
    shifts: dict[str, tuple[int, int]]
    flagged: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.number,
            "scores": {k: round(v, 3) for k, v in self.scores.items()},
            "shifts": {k: list(v) for k, v in self.shifts.items()},
            "flagged": list(self.flagged),
        }


@dataclass
class PassiveResult:
    slices: list[SliceEvidence] = field(default_factory=list)
    heatmaps: dict[int, npt.NDArray[np.float32]] = field(default_factory=dict)  # suspect slices only

    @property
    def suspect(self) -> list[int]:
        return [s.number for s in self.slices if s.flagged]

    def as_dict(self) -> dict[str, Any]:
        return {
            "methods": {m.name: m.as_dict() for m in METHODS},
            "slices": [s.as_dict() for s in self.slices],
            "suspect": self.suspect,
        }


def slice_evidence(
    frame: npt.NDArray[Any], previous: npt.NDArray[Any] | None, number: int = 0
) -> tuple[SliceEvidence, npt.NDArray[np.float32]]:
    """Every method on one slice (and the previous one, when it has the same shape); the evidence and
    the combined heatmap of the flagged methods (zeros when none is flagged)."""
    scores: dict[str, float] = {}
    shifts: dict[str, tuple[int, int]] = {}
    heats: dict[str, npt.NDArray[np.float32]] = {}
    within = copy_move(frame)
    scores[COPY_MOVE.name], shifts[COPY_MOVE.name], heats[COPY_MOVE.name] = (
        within.score,
        within.shift,
        within.heatmap,
    )
    if previous is not None and previous.shape == frame.shape:
        across = copy_move_between(previous, frame)
        scores[COPY_MOVE_PREVIOUS.name] = across.score
        shifts[COPY_MOVE_PREVIOUS.name] = across.shift
        heats[COPY_MOVE_PREVIOUS.name] = across.heatmaps[1]
    noise = noise_inconsistency(frame)
    scores[NOISE.name], heats[NOISE.name] = noise.score, noise.heatmap
    flagged = tuple(m.name for m in METHODS if scores.get(m.name, 0.0) > m.threshold)
    heat = np.zeros(frame.shape[:2], dtype=np.float32)
    for name in flagged:
        heat = np.maximum(heat, heats[name])
    return SliceEvidence(number, scores, shifts, flagged), heat


def examine(
    frames: Sequence[npt.NDArray[Any]], progress: Callable[[float], None] | None = None
) -> PassiveResult:
    """Every slice of a study (in viewing order) through every passive detector."""
    result = PassiveResult()
    previous: npt.NDArray[Any] | None = None
    for number, frame in enumerate(frames):
        evidence, heat = slice_evidence(frame, previous, number)
        result.slices.append(evidence)
        if evidence.flagged:
            result.heatmaps[number] = heat
        previous = frame
        if progress is not None:
            progress((number + 1) / max(len(frames), 1))
    return result
