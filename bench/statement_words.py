"""Word check of consent statements on real speech: GRID sentences against right and wrong words.

Each GRID clip's transcript follows from its file name (command colour preposition letter digit
adverb). The last three words play the challenge; the first three the statement. A genuine probe
is a clip with its own words; a wrong-words probe is the same clip expected to say another clip's
challenge. The cohort is eight random phrases of the GRID vocabulary (seeded).

The clips are split by sorted name: the first five choose the threshold, the other six give the
figures reported (never the same files).

Unrelated speech: real recordings that do not say the product's statement (two LibriSpeech
utterances per speaker, the three retalking clips), each checked against the product's statement
with four random challenge words and a cohort drawn like the product's. Every one is an attack
("the right person, the wrong words"); the share that passes is that attack's false-accept rate.

    PYTHONPATH=platform:. .venv/bin/python bench/statement_words.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from avatars.engine.media import read_audio
from avatars.engine.statement_words import MIN_WORDS_Z, check_words
from consent.challenge_words import CHALLENGE_WORDS

COMMANDS = {"b": "bin", "l": "lay", "p": "place", "s": "set"}
COLOURS = {"b": "blue", "g": "green", "r": "red", "w": "white"}
PREPOSITIONS = {"a": "at", "b": "by", "i": "in", "w": "with"}
DIGITS = {"z": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
          "7": "seven", "8": "eight", "9": "nine"}  # fmt: skip
ADVERBS = {"a": "again", "n": "now", "p": "please", "s": "soon"}
LETTERS = "abcdefghijklmnopqrstuvxyz"  # GRID has no w


def transcript(stem: str) -> list[str]:
    """The six words of a GRID clip named e.g. 'bbaf2n'."""
    code = stem[-6:]
    return [
        COMMANDS[code[0]],
        COLOURS[code[1]],
        PREPOSITIONS[code[2]],
        code[3],
        DIGITS[code[4]],
        ADVERBS[code[5]],
    ]


def cohort(rng: random.Random, count: int = 8) -> list[list[str]]:
    """Random GRID-style challenge phrases (letter digit adverb)."""
    return [
        [rng.choice(LETTERS), rng.choice(list(DIGITS.values())), rng.choice(list(ADVERBS.values()))]
        for _ in range(count)
    ]


def scores(clips: list[Path]) -> tuple[list[float], list[float]]:
    """Word-check scores of genuine and wrong-words probes among `clips`."""
    genuine: list[float] = []
    wrong: list[float] = []
    words = {clip.stem: transcript(clip.stem) for clip in clips}
    for clip in clips:
        samples = read_audio(clip)
        own = words[clip.stem]
        prefix = " ".join(own[:3])
        others = cohort(random.Random(clip.stem))
        genuine.append(check_words(samples, prefix=prefix, challenge=own[3:], cohort=others).score)
        for other in clips:
            if other != clip and words[other.stem][3:] != own[3:]:
                result = check_words(samples, prefix=prefix, challenge=words[other.stem][3:], cohort=others)
                wrong.append(result.score)
    return genuine, wrong


PRODUCT_PREFIX = (
    "I, Doctor Dana Rivera, consent to Candor Clinic making videos with my likeness about asthma, "
    "diabetes. My code is"
)


def unrelated_scores(media: Path) -> list[float]:
    """Word-check scores of real speech that says something else than the product's statement."""
    files = [
        path
        for speaker in sorted((media / "speech" / "librispeech").iterdir())
        for path in sorted(speaker.glob("*.flac"))[:2]
    ] + sorted((media / "talking" / "retalking").glob("*.mp4"))
    found = []
    for path in files:
        rng = random.Random(path.name)
        words = rng.sample(CHALLENGE_WORDS, 4)
        pool = [word for word in CHALLENGE_WORDS if word not in words]
        others = [rng.sample(pool, 4) for _ in range(8)]
        found.append(
            check_words(read_audio(path), prefix=PRODUCT_PREFIX, challenge=words, cohort=others).score
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    arguments = parser.parse_args()
    clips = sorted((arguments.media / "talking" / "grid").glob("*.mpg"))
    tune, report = clips[:5], clips[5:]
    tune_genuine, tune_wrong = scores(tune)
    genuine, wrong = scores(report)
    unrelated = unrelated_scores(arguments.media)
    threshold = MIN_WORDS_Z
    print(
        json.dumps(
            {
                "threshold": threshold,
                "tuning_clips": [c.name for c in tune],
                "tuning_genuine": [round(s, 2) for s in tune_genuine],
                "tuning_wrong_max": round(max(tune_wrong), 2),
                "tuning_wrong_over_threshold": sum(s >= threshold for s in tune_wrong),
                "tuning_wrong_count": len(tune_wrong),
                "report_clips": [c.name for c in report],
                "genuine": [round(s, 2) for s in genuine],
                "frr": sum(s < threshold for s in genuine) / len(genuine),
                "wrong_count": len(wrong),
                "far": sum(s >= threshold for s in wrong) / len(wrong),
                "wrong_percentiles_50_90_max": [
                    round(float(np.percentile(wrong, q)), 2) for q in (50, 90, 100)
                ],
                "unrelated_speech_count": len(unrelated),
                "unrelated_speech_far": sum(s >= threshold for s in unrelated) / len(unrelated),
                "unrelated_speech_scores": [round(s, 2) for s in unrelated],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
