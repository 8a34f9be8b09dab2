"""Did the clinician say the expected words? A word check for consent statements, offline.

Two steps. The synthesizer's reading of the expected text is aligned with the recording (the same
MFCC + DTW alignment as `avatars.engine.align`, with delta features), which gives every word its
time in the recording and finds where the one-time challenge begins. Then the recording from just
before the challenge to its end is decoded by a speech recogniser (pocketsphinx, with the US-English
acoustic model and dictionary its wheel ships: nothing is downloaded) under a small grammar: the
statement's last words, then one slot per challenge word in which any word of the challenge
vocabulary may stand. The score is the share of the challenge words heard, in order.

A replay or a pre-recorded clip cannot know the challenge, so it scores near 0. The recogniser
confuses some short words (single letters, b/p), so the threshold asks for part of the challenge,
not all of it; a failed word check holds the consent for a person to listen to and never rejects
anyone by itself. Measured error rates and how the threshold was chosen: BENCHMARKS.md (consent
statements, "Word check"), reproduced by `bench/statement_words.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.align import FRAME_RATE, PAD_SECONDS, dtw_path, mfcc
from avatars.engine.errors import InvalidSpecError
from avatars.engine.speech import SAMPLE_RATE, synthesize

#: Share of the challenge words that must be recognised, in order (2 of the product's 4): the lowest
#: at which at most 5 % of wrong-words probes pass on the GRID tuning clips, which are not the ones
#: reported (bench/statement_words.py, BENCHMARKS.md).
MIN_WORD_SCORE = 0.35
#: The fewest other words the challenge vocabulary must offer.
MIN_ALTERNATIVES = 3
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


@dataclass(frozen=True)
class _Reading:
    """The expected text (or a variant) aligned to the recording, with the synthesized words."""

    alignment: _Alignment
    marks: tuple[tuple[str, float, float, bool], ...]  # text, start, end, in the challenge


def _read(recording: NDArray[np.float64], prefix: str, words: Sequence[str]) -> _Reading:
    text = f"{prefix} {' '.join(words)}".strip()
    track = synthesize(text)
    alignment = _align(recording, track.samples)
    prefix_length = len(prefix.strip())
    # A synthesized word belongs to the challenge when it starts after the prefix's text.
    marks: list[tuple[str, float, float, bool]] = []
    position = 0
    for word in track.words:
        found = text.find(word.text, position)
        position = found + len(word.text) if found >= 0 else position
        marks.append((word.text, word.start, word.end, found >= prefix_length))
    return _Reading(alignment, tuple(marks))


# --- The challenge words, recognised -------------------------------------------------------------
#
# A phrase from a closed word list is what a speech recogniser does best, and one ships with the
# pocketsphinx package (the CMU Sphinx US-English acoustic model and pronouncing dictionary). The
# recording from just before the challenge to its end is decoded with a small grammar: the
# statement's last words, then as many places as the challenge has words, each holding any word of
# the challenge vocabulary. The recogniser picks, for every place, the
# word that fits best; the challenge words recognised in order (the longest common subsequence of
# what was heard and what was expected) are the evidence, and their share is the score. A recording
# of another code, of the statement without its code, or of other speech has about one chance in
# the vocabulary's size per word of hitting the expected word.

#: Words of the statement heard before the challenge: the decoded part starts a little before them.
LEAD_WORDS = 3
LEAD_MARGIN_SECONDS = 0.4
_RECOGNISER_RATE = 16_000
_recogniser_lock = threading.Lock()
_recogniser: Any = None
_grammar = ""


def _decoder() -> Any:
    global _recogniser
    if _recogniser is None:
        from pocketsphinx import Decoder

        _recogniser = Decoder(samprate=_RECOGNISER_RATE, lm=None, logfn="/dev/null")
    return _recogniser


def known_words(words: Sequence[str]) -> list[str]:
    """The words the recogniser's pronouncing dictionary knows (lower case), in order."""
    with _recogniser_lock:
        decoder = _decoder()
        return [w.lower() for w in words if decoder.lookup_word(w.lower()) is not None]


@dataclass(frozen=True)
class HeardWord:
    """A word the recogniser heard in the challenge's places, when (seconds), and whether it is
    the challenge word expected there."""

    text: str
    start: float
    end: float
    expected: bool


def _in_order(heard: Sequence[str], expected: Sequence[str]) -> set[int]:
    """Indexes into `heard` of a longest common subsequence with `expected`."""
    rows, columns = len(heard), len(expected)
    table = np.zeros((rows + 1, columns + 1), dtype=np.int64)
    for i in range(rows):
        for j in range(columns):
            table[i + 1, j + 1] = (
                table[i, j] + 1 if heard[i] == expected[j] else max(table[i, j + 1], table[i + 1, j])
            )
    found: set[int] = set()
    i, j = rows, columns
    while i > 0 and j > 0:
        if heard[i - 1] == expected[j - 1]:
            found.add(i - 1)
            i, j = i - 1, j - 1
        elif table[i - 1, j] >= table[i, j - 1]:
            i -= 1
        else:
            j -= 1
    return found


def recognise_challenge(
    samples: NDArray[np.float32],
    *,
    start: float,
    lead: Sequence[str],
    challenge: Sequence[str],
    vocabulary: Sequence[str],
) -> tuple[int, tuple[HeardWord, ...]]:
    """How many challenge words the recogniser hears, in order, in the recording from `start`
    seconds on, choosing for each place among all words of `vocabulary`; with the words heard."""
    from scipy.signal import resample_poly

    begin = max(0, int(start * SAMPLE_RATE))
    part = resample_poly(samples[begin:].astype(np.float64), _RECOGNISER_RATE, SAMPLE_RATE)
    # Half a second of faint noise after the end: a recording stopped right after the last word
    # still gives the recogniser the silence it expects there.
    tail = np.random.default_rng(0).normal(0.0, 1e-3, _RECOGNISER_RATE // 2)
    pcm = (np.clip(np.concatenate([part, tail]), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
    words = [w.lower() for w in challenge]
    lead_words = known_words(lead)
    choices = known_words(sorted({*vocabulary, *words}))
    unknown = sorted(set(words) - set(choices))
    if unknown:
        raise InvalidSpecError(
            f"The recogniser does not know the challenge word(s) {unknown}.", code="invalid_spec"
        )
    place = "( " + " | ".join(choices) + " )"
    grammar = (
        "#JSGF V1.0; grammar challenge; public <s> = "
        + " ".join([*lead_words, *([place] * len(words))])
        + " ;"
    )
    with _recogniser_lock:
        global _grammar
        decoder = _decoder()
        if grammar != _grammar:  # compiling a grammar costs more than decoding a short recording
            decoder.add_jsgf_string("challenge", grammar)
            decoder.activate_search("challenge")
            _grammar = grammar
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        segments = list(decoder.seg()) if decoder.hyp() is not None else []
        # A word's alternative pronunciations come back as "word(2)".
        decoded = [(seg.word.split("(")[0], seg.start_frame, seg.end_frame) for seg in segments]
    spoken = [w for w in decoded if w[0] in choices or w[0] in lead_words]
    heard = spoken[len(lead_words) :]
    matched = _in_order([w for w, _, _ in heard], words)
    return len(matched), tuple(
        HeardWord(text=w, start=start + first / 100, end=start + (last + 1) / 100, expected=i in matched)
        for i, (w, first, last) in enumerate(heard)
    )


@dataclass(frozen=True)
class WordsResult:
    """The word check's verdict with its score (the worst challenge word's), threshold and evidence."""

    score: float
    threshold: float
    passed: bool
    challenge: tuple[HeardWord, ...]
    words: tuple[WordTiming, ...]
    reason: str = ""


def check_words(
    samples: NDArray[np.float32],
    *,
    prefix: str,
    challenge: Sequence[str],
    vocabulary: Sequence[str],
    threshold: float = MIN_WORD_SCORE,
) -> WordsResult:
    """Did the recording say `prefix` followed by the `challenge` words (drawn from `vocabulary`)?

    The synthesizer's reading of the whole text, aligned to the recording, gives every word its
    time (evidence for a reviewer) and says where the statement's last words begin; from there the
    recogniser scores each challenge word against every other word of the vocabulary and against
    no word. The check's score is the worst challenge word's.
    """
    if not challenge:
        raise InvalidSpecError("The word check needs the challenge words.", code="invalid_spec")
    if len({*vocabulary} - {*challenge}) < MIN_ALTERNATIVES:
        raise InvalidSpecError(
            f"The word check needs at least {MIN_ALTERNATIVES} other words in the vocabulary.",
            code="invalid_spec",
        )
    if len(samples) == 0 or float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < SILENCE_RMS:
        return WordsResult(0.0, threshold, False, (), (), reason="silent")
    recording = _features(samples)
    expected = _read(recording, prefix, list(challenge))
    timings = []
    for word_text, start, end, inside in expected.marks:
        span = _span(start, end)
        first = int(expected.alignment.recorded_first[span].min())
        last = int(expected.alignment.recorded_last[span].max())
        timings.append(
            WordTiming(
                text=word_text,
                start=first / FRAME_RATE,
                end=(last + 1) / FRAME_RATE,
                cost=float(expected.alignment.frame_costs[span].mean()),
                in_challenge=inside,
            )
        )
    before = [t for t in timings if not t.in_challenge][-LEAD_WORDS:]
    start = (before[0].start if before else 0.0) - LEAD_MARGIN_SECONDS
    lead = [w.strip(".,;:!?").lower() for w in prefix.split()][-LEAD_WORDS:]
    found, heard = recognise_challenge(
        samples, start=start, lead=lead, challenge=challenge, vocabulary=vocabulary
    )
    score = found / len(challenge)
    passed = score >= threshold
    return WordsResult(
        score=score,
        threshold=threshold,
        passed=passed,
        challenge=heard,
        words=tuple(timings),
        reason="" if passed else "challenge_not_heard",
    )
