"""Word check of consent statements on real speech: GRID sentences against right and wrong words.

Each GRID clip's transcript follows from its file name (command colour preposition letter digit
adverb). A probe splits the sentence into a statement (the first words) and a challenge (the last
*k* words, k = 3 and 4; the product asks for 4); the check is asked whether the clip says the statement followed by a
given challenge. Every challenge word is compared with eight other words of the GRID vocabulary
(all 51 words, as the product draws from its one list of 128), drawn reproducibly per probe.

* **genuine**: a clip with its own challenge (false reject when held);
* **wrong challenge**: the same clip expected to say another clip's last k words, where they
  differ (often in one word only: GRID has four adverbs and ten digits), like a recording of
  another code;
* **random challenge**: k random words of the vocabulary, none of them the clip's (a replayed
  statement read with another one-time code);
* **missing challenge**: the clip's sound cut where its statement ends (the end of word 6 - k in the
  genuine alignment) and padded with room silence (the statement without the code).

The clips are split by sorted name: the first five choose the threshold (the lowest at which the
tuning wrong-words probes pass at most 5 %), the other six give the figures reported.

Unrelated speech: real recordings that do not say the product's statement (two LibriSpeech
utterances per speaker, the three retalking clips), each checked against the product's statement
with four random challenge words of the product's list. Every one is an attack ("the right person,
the wrong words").

    PYTHONPATH=platform:. .venv/bin/python bench/statement_words.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.media import read_audio
from avatars.engine.speech import SAMPLE_RATE
from avatars.engine.statement_words import MIN_WORD_SCORE, check_words
from consent.challenge_words import CHALLENGE_WORDS

COMMANDS = {"b": "bin", "l": "lay", "p": "place", "s": "set"}
COLOURS = {"b": "blue", "g": "green", "r": "red", "w": "white"}
PREPOSITIONS = {"a": "at", "b": "by", "i": "in", "w": "with"}
DIGITS = {"z": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
          "7": "seven", "8": "eight", "9": "nine"}  # fmt: skip
ADVERBS = {"a": "again", "n": "now", "p": "please", "s": "soon"}
LETTERS = "abcdefghijklmnopqrstuvxyz"  # GRID has no w
VOCABULARY = sorted(
    {
        *COMMANDS.values(),
        *COLOURS.values(),
        *PREPOSITIONS.values(),
        *LETTERS,
        *DIGITS.values(),
        *ADVERBS.values(),
    }
)
SPLITS = (3, 4)
RANDOM_PER_CLIP = 2
FAR_TARGET = 0.05


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


def _check(samples: NDArray[np.float32], prefix: list[str], challenge: list[str], seed: str) -> float:
    return check_words(samples, prefix=" ".join(prefix), challenge=challenge, vocabulary=VOCABULARY).score


def _without_challenge(
    samples: NDArray[np.float32], prefix: list[str], challenge: list[str], seed: str
) -> NDArray[np.float32]:
    result = check_words(samples, prefix=" ".join(prefix), challenge=challenge, vocabulary=VOCABULARY)
    end = [w for w in result.words if not w.in_challenge][-1].end
    cut = int(end * SAMPLE_RATE)
    quiet = samples[: int(0.3 * SAMPLE_RATE)]  # the clip's own room sound before speech
    tail = np.resize(quiet, len(samples) - cut) if cut < len(samples) else np.zeros(0, np.float32)
    return np.concatenate([samples[:cut], tail]).astype(np.float32)


def scores(clips: list[Path]) -> dict[str, list[float]]:
    """Word-check scores of every kind of probe among `clips`."""
    found: dict[str, list[float]] = {"genuine": [], "wrong": [], "random": [], "missing": []}
    words = {clip.stem: transcript(clip.stem) for clip in clips}
    for clip in clips:
        samples = read_audio(clip)
        own = words[clip.stem]
        for k in SPLITS:
            prefix, challenge = own[:-k], own[-k:]
            seed = f"{clip.stem}-{k}"
            genuine = _check(samples, prefix, challenge, seed)
            found["genuine"].append(genuine)
            found.setdefault(f"genuine_{k}", []).append(genuine)
            for other in clips:
                theirs = words[other.stem][-k:]
                if other != clip and theirs != challenge:
                    wrong = _check(samples, prefix, theirs, seed)
                    found["wrong"].append(wrong)
                    found.setdefault(f"wrong_{k}", []).append(wrong)
            rng = random.Random(seed)
            pool = [word for word in VOCABULARY if word not in own]
            for _ in range(RANDOM_PER_CLIP):
                found["random"].append(_check(samples, prefix, rng.sample(pool, k), seed))
            cut = _without_challenge(samples, prefix, challenge, seed)
            found["missing"].append(_check(cut, prefix, challenge, seed))
    return found


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
        words = random.Random(path.name).sample(CHALLENGE_WORDS, 4)
        found.append(
            check_words(
                read_audio(path), prefix=PRODUCT_PREFIX, challenge=words, vocabulary=CHALLENGE_WORDS
            ).score
        )
    return found


def choose_threshold(genuine: list[float], attacks: list[float]) -> float:
    """The lowest threshold (share of challenge words recognised, on a 0.05 grid) at which at most
    FAR_TARGET of the attacks pass."""
    for step in range(0, 21):
        threshold = step / 20
        if sum(s >= threshold for s in attacks) <= FAR_TARGET * len(attacks):
            return threshold
    return 1.05


def _rate(values: list[float], threshold: float, *, passing: bool) -> str:
    count = sum((s >= threshold) == passing for s in values)
    return f"{count} / {len(values)}"


def _summary(
    tuning: dict[str, list[float]], reported: dict[str, list[float]], unrelated: list[float]
) -> dict[str, Any]:
    tuning_attacks = tuning["wrong"] + tuning["random"] + tuning["missing"]
    threshold = choose_threshold(tuning["genuine"], tuning_attacks)
    return {
        "threshold_in_product": MIN_WORD_SCORE,
        "threshold_chosen_on_tuning": threshold,
        "tuning_frr": _rate(tuning["genuine"], threshold, passing=False),
        "tuning_far": {
            kind: _rate(tuning[kind], threshold, passing=True) for kind in ("wrong", "random", "missing")
        },
        "frr": _rate(reported["genuine"], threshold, passing=False),
        "far": {
            kind: _rate(reported[kind], threshold, passing=True) for kind in ("wrong", "random", "missing")
        },
        "unrelated_speech_far": _rate(unrelated, threshold, passing=True),
        "by_challenge_length": {
            k: {
                "frr": _rate(reported[f"genuine_{k}"], threshold, passing=False),
                "far_wrong": _rate(reported[f"wrong_{k}"], threshold, passing=True),
            }
            for k in SPLITS
        },
        "scores": {"tuning": tuning, "reported": reported, "unrelated": unrelated},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    parser.add_argument(
        "--part",
        choices=("all", "tune", "report", "unrelated"),
        default="all",
        help="measure one part and write its scores as JSON (parts can run in parallel)",
    )
    parser.add_argument("--combine", nargs=3, type=Path, metavar=("TUNE", "REPORT", "UNRELATED"))
    arguments = parser.parse_args()
    if arguments.combine:
        parts = [json.loads(path.read_text()) for path in arguments.combine]
        print(json.dumps(_summary(*parts), indent=1))
        return
    began = time.monotonic()
    clips = sorted((arguments.media / "talking" / "grid").glob("*.mpg"))
    tune, report = clips[:5], clips[5:]
    if arguments.part != "all":
        measured: Any = {
            "tune": lambda: scores(tune),
            "report": lambda: scores(report),
            "unrelated": lambda: unrelated_scores(arguments.media),
        }[arguments.part]()
        print(json.dumps(measured))
        return
    summary = _summary(scores(tune), scores(report), unrelated_scores(arguments.media))
    summary["tuning_clips"] = [c.name for c in tune]
    summary["report_clips"] = [c.name for c in report]
    summary["seconds"] = round(time.monotonic() - began)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
