"""The consent statement's word check and re-use check as engines (no Django), on generated media:
synthetic speech stands in for a reader, generated clips for footage. Real-media figures are in
bench/statement_words.py and bench/statement_checks.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatars.engine.errors import InvalidSpecError
from avatars.engine.speech import synthesize
from avatars.engine.statement_reuse import (
    MAX_AUDIO_BIT_ERRORS,
    ReuseReference,
    audio_bit_errors,
    audio_fingerprint,
    check_reuse,
)
from avatars.engine.statement_words import check_words
from consent.challenge_words import CHALLENGE_WORDS

PREFIX = "I, Doctor Dana Rivera, consent to the clinic making videos with my likeness. My code is"
CHALLENGE = ["tiger", "lemon", "rocket", "valley"]


def _reading(words: list[str], rate: int = 175) -> np.ndarray:
    # Another speaking rate than the check's reference reading, with room noise.
    speech = synthesize(f"{PREFIX} {' '.join(words)}.", words_per_minute=rate).samples
    noise = np.random.default_rng(1).normal(0, 0.003, len(speech)).astype(np.float32)
    return speech + noise


def test_the_expected_words_pass_with_per_word_timing() -> None:
    result = check_words(_reading(CHALLENGE), prefix=PREFIX, challenge=CHALLENGE, vocabulary=CHALLENGE_WORDS)
    assert result.passed and result.score >= result.threshold
    timed = [word for word in result.words if word.in_challenge]
    assert [w.text.strip(".") for w in timed] == CHALLENGE
    assert all(a.end <= b.start + 0.05 for a, b in zip(timed, timed[1:], strict=False))
    # The challenge words recognised in order (the recogniser, trained on people, misses at most
    # one of the synthesizer's four here), each where the alignment puts it.
    assert [w.text for w in result.challenge][:3] == CHALLENGE[:3]
    assert sum(w.expected for w in result.challenge) >= 3
    for recognised, aligned in zip(result.challenge, timed, strict=True):
        assert abs(recognised.start - aligned.start) < 0.3


def test_other_words_in_place_of_the_challenge_fail() -> None:
    said = ["cherry", "dolphin", "helmet", "noodle"]
    result = check_words(_reading(said), prefix=PREFIX, challenge=CHALLENGE, vocabulary=CHALLENGE_WORDS)
    assert not result.passed and result.reason == "challenge_not_heard"
    assert result.score == 0.0 and not any(w.expected for w in result.challenge)


def test_the_score_is_the_share_of_challenge_words_heard_in_order() -> None:
    one = check_words(
        _reading(["tiger", "lemon", "rocket", "walnut"]),
        prefix=PREFIX,
        challenge=CHALLENGE,
        vocabulary=CHALLENGE_WORDS,
    )
    two = check_words(
        _reading(["tiger", "lemon", "piano", "walnut"]),
        prefix=PREFIX,
        challenge=CHALLENGE,
        vocabulary=CHALLENGE_WORDS,
    )
    assert one.score == 0.75 and two.score == 0.5
    assert one.passed and two.passed  # 2 of 4 is the threshold (BENCHMARKS.md)


def test_the_statement_without_the_challenge_fails() -> None:
    speech = synthesize(PREFIX, words_per_minute=175).samples
    result = check_words(speech, prefix=PREFIX, challenge=CHALLENGE, vocabulary=CHALLENGE_WORDS)
    assert not result.passed


def test_silence_fails_without_alignment() -> None:
    result = check_words(
        np.zeros(48_000, np.float32), prefix=PREFIX, challenge=CHALLENGE, vocabulary=CHALLENGE_WORDS
    )
    assert not result.passed and result.reason == "silent" and result.words == ()


def test_the_word_check_needs_other_words_to_choose_from() -> None:
    with pytest.raises(InvalidSpecError):
        check_words(_reading(CHALLENGE), prefix=PREFIX, challenge=CHALLENGE, vocabulary=[*CHALLENGE, "apple"])


def test_the_same_sound_re_encoded_matches_and_other_speech_does_not() -> None:
    speech = _reading(CHALLENGE)
    quieter = (speech * 0.5 + np.random.default_rng(2).normal(0, 0.01, len(speech))).astype(np.float32)
    other = _reading(["cherry", "dolphin", "helmet", "noodle"], rate=150)
    assert audio_bit_errors(audio_fingerprint(quieter), audio_fingerprint(speech)) < MAX_AUDIO_BIT_ERRORS
    assert audio_bit_errors(audio_fingerprint(other), audio_fingerprint(speech)) > 0.35


def test_a_trimmed_copy_matches_at_its_offset() -> None:
    speech = _reading(CHALLENGE)
    trimmed = speech[len(speech) // 3 :]
    assert audio_bit_errors(audio_fingerprint(trimmed), audio_fingerprint(speech)) < MAX_AUDIO_BIT_ERRORS


def test_sound_too_short_to_compare_never_matches() -> None:
    speech = _reading(CHALLENGE)
    assert audio_bit_errors(audio_fingerprint(speech[:8000]), audio_fingerprint(speech)) == 1.0


SENTENCES = {
    1: "The quick brown fox jumps over the lazy dog near the river bank every morning.",
    2: "Please remember to take your medicine with a full glass of water after dinner.",
}


def _clip(path: Path, seed: int, sentence: int | None = None) -> Path:
    import cv2

    from core.media.mp4 import Mp4Writer

    rng = np.random.default_rng(seed)
    # Smooth shapes: the picture fingerprint hashes low spatial frequencies.
    noise = rng.integers(0, 255, (96, 320, 3), dtype=np.uint8)
    texture = cv2.GaussianBlur(noise, (0, 0), 6)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    with Mp4Writer(path, width=160, height=96, fps=25) as writer:
        for index in range(100):
            writer.write_frame(np.ascontiguousarray(texture[:, index : index + 160]))
        writer.write_audio(synthesize(SENTENCES[sentence or seed]).samples)
    return path


def test_a_re_encoded_copy_of_the_enrollment_is_re_use(tmp_path: Path) -> None:
    from provenance.engine.media_io import transcode

    enrollment = _clip(tmp_path / "enrollment.mp4", 1)
    copy = transcode(enrollment, tmp_path / "copy.mp4", crf=30, scale=0.8)
    result = check_reuse(copy, [ReuseReference("enrollment", enrollment)])
    # The sound decides here: at this tiny size a re-encode moves the picture hashes further
    # (6-12 bits) than the picture criterion allows (see statement_reuse).
    assert not result.passed and "sound" in {m.measure for m in result.matches}


def test_the_enrollment_picture_with_new_sound_is_re_use(tmp_path: Path) -> None:
    enrollment = _clip(tmp_path / "enrollment.mp4", 1)
    dubbed = _clip(tmp_path / "dubbed.mp4", 1, sentence=2)
    result = check_reuse(dubbed, [ReuseReference("enrollment", enrollment)])
    assert [m.measure for m in result.matches] == ["picture"]


def test_a_different_recording_is_not_re_use(tmp_path: Path) -> None:
    enrollment = _clip(tmp_path / "enrollment.mp4", 1)
    statement = _clip(tmp_path / "statement.mp4", 2)
    assert check_reuse(statement, [ReuseReference("enrollment", enrollment)]).passed
