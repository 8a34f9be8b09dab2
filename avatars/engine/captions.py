"""WebVTT captions from the spoken words' timing.

Cues are phrases: a cue ends at punctuation that closes a clause, at a pause in the speech, or
when it would be too long to read (two lines of about 42 characters, the common broadcast limit).
Cue times are the first and last word's phoneme times, so captions match the speech exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from avatars.engine.speech import Word

MAX_CUE_CHARACTERS = 84
MAX_CUE_SECONDS = 6.0
PAUSE_SECONDS = 0.35
_CLAUSE_END = (".", ",", ";", ":", "?", "!", "\u3002", "\uff0c", "\u061f")
# Words whose full stop marks an abbreviation, not the end of a sentence ("Dr. Sam Rivera" is one
# phrase). A single capital with a full stop is an initial ("J. Smith") and does not end one either.
_ABBREVIATIONS = frozenset(
    {
        "dr.",
        "mr.",
        "mrs.",
        "ms.",
        "prof.",
        "st.",
        "sr.",
        "jr.",
        "no.",
        "vs.",
        "e.g.",
        "i.e.",
        "approx.",
        "dept.",
    }
)


def _ends_clause(word: str) -> bool:
    if not word.endswith(_CLAUSE_END):
        return False
    abbreviation = word.lower() in _ABBREVIATIONS or (len(word) == 2 and word[0].isupper())
    return not (word.endswith(".") and abbreviation)


@dataclass(frozen=True)
class Cue:
    """One caption: text shown from `start` to `end` seconds."""

    start: float
    end: float
    text: str


def cues_from_words(words: Sequence[Word]) -> list[Cue]:
    """Group timed words into caption phrases."""
    cues: list[Cue] = []
    phrase: list[Word] = []
    for index, word in enumerate(words):
        phrase.append(word)
        following = words[index + 1] if index + 1 < len(words) else None
        text = " ".join(w.text for w in phrase)
        closes = (
            following is None
            or _ends_clause(word.text)
            or following.start - word.end > PAUSE_SECONDS
            or len(text) + 1 + len(following.text) > MAX_CUE_CHARACTERS
            or following.end - phrase[0].start > MAX_CUE_SECONDS
        )
        if closes:
            cues.append(Cue(start=phrase[0].start, end=word.end, text=text))
            phrase = []
    return cues


def _timestamp(seconds: float) -> str:
    milliseconds = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_webvtt(cues: Sequence[Cue]) -> str:
    """Serialize cues as a WebVTT document."""
    lines = ["WEBVTT", ""]
    for number, cue in enumerate(cues, start=1):
        # "-->" inside cue text would end the timing line early; WebVTT has no escape for it.
        text = cue.text.replace("-->", "\u2192")
        lines += [str(number), f"{_timestamp(cue.start)} --> {_timestamp(cue.end)}", text, ""]
    return "\n".join(lines)


def parse_webvtt(document: str) -> list[Cue]:
    """Read back the cues of a WebVTT document written by `to_webvtt` (used by tests and checks)."""
    cues: list[Cue] = []
    blocks = document.replace("\r\n", "\n").split("\n\n")
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start_text, end_text = (part.strip().split(" ")[0] for part in lines[timing].split("-->"))
        cues.append(Cue(_seconds(start_text), _seconds(end_text), "\n".join(lines[timing + 1 :])))
    return cues


def _seconds(stamp: str) -> float:
    parts = [float(p) for p in stamp.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def write_webvtt(cues: Sequence[Cue], path: Path) -> None:
    """Write cues to `path` as UTF-8 WebVTT."""
    path.write_text(to_webvtt(cues), encoding="utf-8")
