"""Speech timing from espeak-ng, visemes, mouth curves and WebVTT captions."""

from __future__ import annotations

import numpy as np
import pytest

from avatars.engine import (
    SpeechError,
    Viseme,
    cues_from_words,
    mouth_track,
    parse_webvtt,
    synthesize,
    to_webvtt,
)
from avatars.engine.captions import MAX_CUE_CHARACTERS, Cue
from avatars.engine.speech import SAMPLE_RATE, Word


def test_synthesis_gives_audio_and_ordered_phonemes_inside_it() -> None:
    track = synthesize("Take one tablet daily.")
    assert track.sample_rate == SAMPLE_RATE and track.duration > 0.8
    starts = [p.start for p in track.phonemes]
    assert starts == sorted(starts)
    assert all(0 <= p.start < p.end <= track.duration + 1e-6 for p in track.phonemes)


@pytest.mark.parametrize(
    "text",
    [
        "I am a computer-generated guide, okay?",
        # espeak-ng reports a phantom empty word pointing back into the text after "dizzy,".
        "Take it with a glass of water. If you feel dizzy, call the clinic at once.",
    ],
)
def test_every_written_word_reaches_the_word_track_once(text: str) -> None:
    track = synthesize(text)
    assert " ".join(w.text for w in track.words) == text


def test_lip_closing_phonemes_become_closed_mouth_visemes() -> None:
    visemes = [p.viseme for p in synthesize("Bob, pump more.").phonemes]
    assert visemes.count(Viseme.MBP) >= 4


def test_phonemes_are_louder_than_the_pauses_between_sentences() -> None:
    track = synthesize("Rest now. Then walk.")

    def rms(start: float, end: float) -> float:
        chunk = track.samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        return float(np.sqrt(np.mean(chunk**2))) if len(chunk) else 0.0

    voiced = [rms(p.start, p.end) for p in track.phonemes if p.viseme in (Viseme.AA, Viseme.EH, Viseme.O)]
    pauses = [
        rms(p.start, p.end) for p in track.phonemes if p.viseme is Viseme.REST and p.end - p.start > 0.05
    ]
    assert min(voiced) > 5 * max(pauses)


@pytest.mark.parametrize(
    ("language", "text"), [("es", "Tome una pastilla al día."), ("de", "Nehmen Sie täglich eine Tablette.")]
)
def test_other_languages_are_spoken_with_timing(language: str, text: str) -> None:
    track = synthesize(text, language=language)
    assert track.duration > 1.0 and len(track.words) >= 4


def test_empty_text_is_refused_with_a_clear_message() -> None:
    with pytest.raises(SpeechError, match="script is empty"):
        synthesize("   ")


def test_the_mouth_is_closed_in_silence_and_open_on_vowels() -> None:
    track = synthesize("Ah. Mmm.")
    fps = 25
    mouths = mouth_track(track, fps, int(track.duration * fps) + 1)
    vowel = next(p for p in track.phonemes if p.viseme is Viseme.AA)
    hum = next(p for p in track.phonemes if p.viseme is Viseme.MBP)
    assert mouths[int((vowel.start + vowel.end) / 2 * fps), 0] > 0.4
    assert mouths[int((hum.start + hum.end) / 2 * fps), 0] < 0.15
    pause = max((p for p in track.phonemes if p.viseme is Viseme.REST), key=lambda p: p.end - p.start)
    assert pause.end - pause.start > 0.12
    assert mouths[int((pause.start + pause.end) / 2 * fps), 0] < 0.2


def test_mouth_follows_loudness_when_there_is_no_phoneme_timing() -> None:
    from avatars.engine.speech import SpeechTrack

    loud = np.sin(np.arange(SAMPLE_RATE) * 0.05).astype(np.float32) * 0.5
    samples = np.concatenate([np.zeros(SAMPLE_RATE, dtype=np.float32), loud])
    mouths = mouth_track(SpeechTrack(samples=samples), 25, 50)
    assert mouths[:20, 0].max() < 0.05 < 0.5 < mouths[30:, 0].min()


def test_cues_break_at_sentences_and_stay_short() -> None:
    words = [
        Word(i * 0.3, i * 0.3 + 0.25, "word.") if i == 3 else Word(i * 0.3, i * 0.3 + 0.25, "word")
        for i in range(60)
    ]
    cues = cues_from_words(words)
    assert cues[0].text == "word word word word."
    assert all(len(c.text) <= MAX_CUE_CHARACTERS for c in cues)
    assert sum(len(c.text.split()) for c in cues) == 60


def test_a_title_or_an_initial_does_not_end_a_caption_but_a_sentence_does() -> None:
    """Issue 15 item 12: "...with the consent of Dr." / "Sam Rivera." were two cues."""
    text = "This video was made with the consent of Dr. Sam J. Rivera. Ask your nurse."
    words = [Word(i * 0.3, i * 0.3 + 0.25, token) for i, token in enumerate(text.split())]
    assert [c.text for c in cues_from_words(words)] == [
        "This video was made with the consent of Dr. Sam J. Rivera.",
        "Ask your nurse.",
    ]


def test_webvtt_round_trips_times_to_the_millisecond() -> None:
    cues = [Cue(0.0131, 1.5, "Hello."), Cue(3661.25, 3662.0, "an arrow --> here")]
    document = to_webvtt(cues)
    assert document.startswith("WEBVTT\n")
    parsed = parse_webvtt(document)
    assert [round(c.start, 3) for c in parsed] == [0.013, 3661.25]
    assert "-->" not in parsed[1].text
