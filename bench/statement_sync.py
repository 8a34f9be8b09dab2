"""Phoneme-level audio-visual sync (avatars.engine.statement_sync) on real GRID clips, with a split.

Genuine: each GRID clip with its own sound and transcript (from the file name). Attacks:
* dub: one clip's picture with another clip's sound and words (same split, every ordered pair);
* face swap: a clip's face pasted onto the next clip's person (bench/statement_face_swap.py's
  method: the donor's mouth moves with the donor's words) with a third clip's sound and words laid
  under, as a deepfake whose voice says the statement while the face said something else.
The 11 clips, sorted by name: the first 5 choose the threshold (the lowest at which at most 5 % of
the tuning attacks pass), the last 6 are reported with it.

    PYTHONPATH=platform:. .venv/bin/python bench/statement_sync.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.statement_words import transcript

TUNE = 5
FAR_TARGET = 0.05


def _rate(values: list[float], threshold: float, *, passing: bool) -> str:
    hits = sum((v >= threshold) == passing for v in values)
    return f"{hits} / {len(values)}"


def main() -> None:
    from avatars.engine.media import read_audio
    from avatars.engine.quality import track_video
    from avatars.engine.statement_sync import sync_score
    from bench.statement_face_swap import make_swap

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    parser.add_argument("--no-swaps", action="store_true")
    args = parser.parse_args()
    clips = sorted((args.media / "talking" / "grid").glob("*.mpg"))
    started = time.monotonic()
    tracks = {clip.stem: track_video(clip) for clip in clips}
    sounds = {clip.stem: read_audio(clip) for clip in clips}
    texts = {clip.stem: " ".join(transcript(clip.stem)) for clip in clips}

    def score(openings: Any, fps: float, sound: str) -> dict[str, Any]:
        result = sync_score(openings, fps, sounds[sound], texts[sound])
        return {"score": None if result.score is None else round(result.score, 3), "lag": result.lag_frames}

    report: dict[str, Any] = {}
    for name, part in (("tune", clips[:TUNE]), ("report", clips[TUNE:])):
        stems = [clip.stem for clip in part]
        genuine = {s: score(tracks[s].openings, tracks[s].fps, s) for s in stems}
        dubs = {
            f"{a} picture, {b} sound": score(tracks[a].openings, tracks[a].fps, b)
            for a in stems
            for b in stems
            if a != b
        }
        swaps: dict[str, Any] = {}
        if not args.no_swaps:
            with tempfile.TemporaryDirectory() as folder:
                for index, donor in enumerate(part):
                    host, voice = part[(index + 1) % len(part)], part[(index + 2) % len(part)]
                    swapped = make_swap(donor, host, Path(folder) / f"{donor.stem}.mp4", start_seconds=0.0)
                    track = track_video(swapped)
                    swaps[f"{donor.stem} face on {host.stem}, {voice.stem} sound"] = score(
                        track.openings, track.fps, voice.stem
                    )
        report[name] = {"genuine": genuine, "dub": dubs, "swap": swaps}

    def values(part: str, kind: str) -> list[float]:
        return [v["score"] if v["score"] is not None else -1.0 for v in report[part][kind].values()]

    attacks = sorted(values("tune", "dub") + values("tune", "swap"))
    allowed = int(FAR_TARGET * len(attacks))
    # The lowest threshold at which at most `allowed` tuning attacks reach it.
    threshold = round(attacks[len(attacks) - allowed - 1] + 0.001, 3) if attacks else 0.0
    summary = {
        "threshold (from tuning attacks)": threshold,
        "tune": {
            "genuine held (FRR)": _rate(values("tune", "genuine"), threshold, passing=False),
            "dub through (FAR)": _rate(values("tune", "dub"), threshold, passing=True),
            "swap through (FAR)": _rate(values("tune", "swap"), threshold, passing=True),
        },
        "report": {
            "genuine held (FRR)": _rate(values("report", "genuine"), threshold, passing=False),
            "dub through (FAR)": _rate(values("report", "dub"), threshold, passing=True),
            "swap through (FAR)": _rate(values("report", "swap"), threshold, passing=True),
        },
        "genuine scores": {p: sorted(values(p, "genuine")) for p in ("tune", "report")},
        "attack scores, highest 5": {
            p: sorted(values(p, "dub") + values(p, "swap"))[-5:] for p in ("tune", "report")
        },
        "seconds": round(time.monotonic() - started),
        "load average (1 min) at the end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps({"details": report, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
