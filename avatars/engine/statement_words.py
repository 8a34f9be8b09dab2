"""Did the clinician say the expected words? A word check for consent statements, offline.

There is no speech recogniser here, so the check compares the recording with the synthesizer's
reading of the expected text (the same MFCC + DTW alignment as `avatars.engine.align`, with
delta features) and asks a relative question: does the recording match the expected challenge
phrase clearly better than it matches other phrases of the same kind? The other phrases (the
*cohort*) are the statement with different challenge words; the cost of each is measured over the
challenge's span of the alignment only, so the statement's shared words cancel out. The score is
how many cohort standard deviations the expected phrase's cost lies below the cohort's mean (a
z-score). A recording of other words, of the statement without the phrase, or of silence matches
the expected phrase no better than any other and scores near 0.

Every word of the expected text gets its time in the recording (carried through the alignment)
and its own alignment cost, as evidence for a reviewer.

The separation measured on real speech (GRID corpus sentences, the last three words as the
challenge) is in `/work/notes/bench-statement.md`; it is modest, so a failed word check holds the
consent for a person to listen to, and never rejects anyone by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from avatars.engine.align import FRAME_RATE, PAD_SECONDS, dtw_path, mfcc
from avatars.engine.errors import InvalidSpecError
from avatars.engine.speech import SAMPLE_RATE, synthesize

#: Chosen on GRID clips not used for the figures reported (see the module docstring).
MIN_WORDS_Z = 1.0
#: Below this much sound (RMS) a recording is treated as silent and fails without alignment.
SILENCE_RMS = 3e-4


@dataclass(frozen=True)
class WordTiming:
    """One expected word, where the alignment puts it in the recording, and how well it fit."""

    text: str
    start: float
    end: float
    cost: float
    in_challenge: bool


@dataclass(frozen=True)
class WordsResult:
    """The word check's verdict with its score, threshold and evidence."""

    score: float
    threshold: float
    passed: bool
    challenge_cost: float
    cohort_mean: float
    cohort_spread: float
    words: tuple[WordTiming, ...]
    reason: str = ""


def _features(samples: NDArray[np.float32]) -> NDArray[np.float64]:
    coefficients = mfcc(samples)
    return np.hstack([coefficients, np.gradient(coefficients, axis=0)])


@dataclass(frozen=True)
class _Alignment:
    frame_costs: NDArray[np.float64]  # per reference frame, mean local cost of the frames matched to it
    recorded_first: NDArray[np.int64]  # per reference frame, first recorded frame matched to it
    recorded_last: NDArray[np.int64]


def _align(recording: NDArray[np.float64], reference_samples: NDArray[np.float32]) -> _Alignment:
    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
    reference = _features(np.concatenate([pad, reference_samples, pad]))
    path = dtw_path(recording, reference)
    local = np.linalg.norm(recording[path[:, 0]] - reference[path[:, 1]], axis=1)
    frames = len(reference)
    sums = np.bincount(path[:, 1], weights=local, minlength=frames)
    counts = np.maximum(np.bincount(path[:, 1], minlength=frames), 1)
    first = np.full(frames, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.zeros(frames, dtype=np.int64)
    np.minimum.at(first, path[:, 1], path[:, 0])
    np.maximum.at(last, path[:, 1], path[:, 0])
    return _Alignment(sums / counts, first, last)


def _span(seconds_start: float, seconds_end: float) -> slice:
    offset = PAD_SECONDS * FRAME_RATE
    return slice(int(offset + seconds_start * FRAME_RATE), max(int(offset + seconds_end * FRAME_RATE), 1))


def _challenge_cost(
    samples_recording: NDArray[np.float64], prefix: str, words: Sequence[str]
) -> tuple[float, _Alignment, tuple[tuple[str, float, float, bool], ...]]:
    text = f"{prefix} {' '.join(words)}".strip()
    track = synthesize(text)
    alignment = _align(samples_recording, track.samples)
    prefix_length = len(prefix.strip())
    # A synthesized word belongs to the challenge when it starts after the prefix's text.
    spoken = [(w.text, w.start, w.end) for w in track.words]
    marks: list[tuple[str, float, float, bool]] = []
    position = 0
    for word_text, start, end in spoken:
        found = text.find(word_text, position)
        position = found + len(word_text) if found >= 0 else position
        marks.append((word_text, start, end, found >= prefix_length))
    challenge = [(start, end) for _, start, end, inside in marks if inside]
    if not challenge:
        raise InvalidSpecError(
            "The challenge phrase produced no speech to compare with.", code="invalid_spec"
        )
    span = _span(challenge[0][0], challenge[-1][1])
    return float(alignment.frame_costs[span].mean()), alignment, tuple(marks)


def check_words(
    samples: NDArray[np.float32],
    *,
    prefix: str,
    challenge: Sequence[str],
    cohort: Sequence[Sequence[str]],
    threshold: float = MIN_WORDS_Z,
) -> WordsResult:
    """Score how clearly the recording says `prefix` followed by the `challenge` words.

    `cohort` holds other challenge phrases (at least three, of the same length and vocabulary);
    they are the yardstick the expected phrase must beat.
    """
    if not challenge:
        raise InvalidSpecError("The word check needs the challenge words.", code="invalid_spec")
    if len(cohort) < 3:
        raise InvalidSpecError("The word check needs at least three other phrases.", code="invalid_spec")
    if len(samples) == 0 or float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < SILENCE_RMS:
        return WordsResult(0.0, threshold, False, 0.0, 0.0, 0.0, (), reason="silent")
    recording = _features(samples)
    expected, alignment, marks = _challenge_cost(recording, prefix, challenge)
    others = np.array([_challenge_cost(recording, prefix, phrase)[0] for phrase in cohort])
    spread = float(others.std()) or 1e-6
    score = float((others.mean() - expected) / spread)
    timings = []
    for word_text, start, end, inside in marks:
        span = _span(start, end)
        first = int(alignment.recorded_first[span].min())
        last = int(alignment.recorded_last[span].max())
        timings.append(
            WordTiming(
                text=word_text,
                start=first / FRAME_RATE,
                end=(last + 1) / FRAME_RATE,
                cost=float(alignment.frame_costs[span].mean()),
                in_challenge=inside,
            )
        )
    passed = score >= threshold
    return WordsResult(
        score=score,
        threshold=threshold,
        passed=passed,
        challenge_cost=expected,
        cohort_mean=float(others.mean()),
        cohort_spread=spread,
        words=tuple(timings),
        reason="" if passed else "challenge_not_heard",
    )
