"""Consent statement attacks on real media: how often each check lets an attack through (FAR) and
how often it holds a genuine recording (FRR). Named data in ../shared/media:

* genuine: every real talking clip (GRID 11, retalking 3); for re-use, a new take is the second
  half of a retalking clip against its first half (the same person and framing, new recording);
* enrollment resubmitted: each clip against itself, as is and re-encoded (H.264 crf 23 and crf 35
  at 80 % size);
* real voice laid under another picture: each clip's picture with another clip's sound, checked
  against the clip that gave the sound;
* face swap: the two DFDC fake videos (consented actors; the scanner's manipulation analyzers);
* synthetic voice: the product's own TTS (espeak-ng) reading statements, muxed onto a real clip;
* the render engine's footage-mode output of the enrolled person saying the statement (synthetic
  voice, mouth re-animated on the enrollment footage), through every check but the words
  (identity, liveness, re-use against the enrollment footage, manipulation); `--only render` runs
  just this part.

    PYTHONPATH=platform:. .venv/bin/python bench/statement_checks.py [--media ../shared/media]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from avatars.engine.speech import SAMPLE_RATE, resample, synthesize
from avatars.engine.statement_reuse import ReuseReference, check_reuse

MANIPULATION = frozenset(
    {"visual_manipulation", "lip_sync", "identity_drift", "blending_flicker", "synthetic_speech"}
)
STATEMENTS = (
    "I, Doctor Rivera, consent to Candor Clinic making videos with my likeness about diabetes. My code is tiger lemon rocket valley.",
    "I, Doctor Okafor, consent to Candor Clinic making videos with my likeness about asthma. My code is piano walnut harbor zebra.",
    "I, Doctor Lindqvist, consent to Candor Clinic making videos with my likeness about nutrition. My code is candle orange falcon ladder.",
)  # fmt: skip


def _mux(picture: Path, sound: Any, out: Path) -> Path:
    """`picture`'s frames with `sound` (mono float32 at the engine's rate) under them."""
    from core.media.mp4 import AUDIO_RATE, Mp4Writer, even_size
    from provenance.engine.media_io import iter_frames, video_info

    info = video_info(picture)
    width, height = even_size(info.width, info.height)
    with Mp4Writer(out, width=width, height=height, fps=float(info.fps)) as writer:
        for rgb in iter_frames(picture):
            writer.write_frame(rgb[:height, :width])
        writer.write_audio(resample(sound, SAMPLE_RATE, AUDIO_RATE))
    return out


def _flagged(path: Path) -> dict[str, bool]:
    from detection.engine import ScanSpec, scan

    result = scan(ScanSpec(path=path, analyzers=MANIPULATION))
    return {r.name: r.flagged for r in result.results if not r.skipped}


def footage_renders(clips: list[Path], scratch: Path) -> dict[str, Any]:
    """Footage-mode renders of the statement from each enrollment clip, and what caught each."""
    from avatars.engine.render import render
    from avatars.engine.specs import Disclosure, FootageAvatar, RenderSpec, ScriptNarration
    from avatars.engine.statement import StatementCheckSpec, check_consent_statement

    caught: dict[str, list[str]] = {}
    for number, clip in enumerate(clips):
        folder = scratch / f"render-{number}"
        folder.mkdir()
        result = render(
            RenderSpec(
                FootageAvatar(clip),
                ScriptNarration(STATEMENTS[number % len(STATEMENTS)]),
                Disclosure("AI-generated video", "This is an AI-generated video.", "End of the AI video."),
                folder,
                width=640,
                height=480,
            )
        )
        why = []
        identity = check_consent_statement(StatementCheckSpec(statement=result.video, enrollment=clip))
        if not (identity.face_passed and identity.voice_passed):
            why.append("identity")
        if not identity.liveness_passed:
            why.append("liveness")
        if not check_reuse(result.video, [ReuseReference("enrollment", clip)]).passed:
            why.append("reuse")
        why += [name for name, flagged in _flagged(result.video).items() if flagged]
        caught[clip.name] = why
    return {
        "footage_render_far": sum(not why for why in caught.values()) / len(caught),
        "footage_render_caught_by": caught,
    }


def main() -> None:
    from avatars.engine.media import read_audio
    from provenance.engine.media_io import transcode

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    parser.add_argument("--only", choices=["render"], help="run one part only")
    arguments = parser.parse_args()
    media = arguments.media
    clips = sorted((media / "talking" / "grid").glob("*.mpg")) + sorted(
        (media / "talking" / "retalking").glob("*.mp4")
    )
    fakes = sorted((media / "forgery" / "dfdc" / "videos").glob("*.mp4"))
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        talking = sorted((media / "talking" / "retalking").glob("*.mp4")) + clips[:3]
        report.update(footage_renders(talking, scratch))
        print(json.dumps(report), file=sys.stderr, flush=True)
        if arguments.only == "render":
            print(json.dumps(report, indent=1))
            return
        # Re-use: resubmitted enrollment (as is, re-encoded); real voice laid under another picture.
        caught: dict[str, list[bool]] = {"as_is": [], "crf23": [], "crf35_80pc": [], "voice_laid_under": []}
        for index, clip in enumerate(clips):
            enrollment = [ReuseReference("enrollment", clip)]
            caught["as_is"].append(not check_reuse(clip, enrollment).passed)
            for name, crf, scale in (("crf23", 23, 1.0), ("crf35_80pc", 35, 0.8)):
                copy = transcode(clip, scratch / f"{name}.mp4", crf=crf, scale=scale)
                caught[name].append(not check_reuse(copy, enrollment).passed)
            donor = clips[(index + 1) % len(clips)]
            dubbed = _mux(clip, read_audio(donor), scratch / "dubbed.mp4")
            caught["voice_laid_under"].append(
                not check_reuse(dubbed, [ReuseReference("enrollment", donor)]).passed
            )
        report["reuse_far"] = {name: 1 - sum(v) / len(v) for name, v in caught.items()}
        report["reuse_attacks_per_kind"] = len(clips)
        print(json.dumps(report), file=sys.stderr, flush=True)
        # Genuine new takes: halves of each retalking clip; and every pair of different clips.
        held = []
        for clip in sorted((media / "talking" / "retalking").glob("*.mp4")):
            first = transcode(clip, scratch / "first.mp4", max_seconds=3.0)
            second = transcode(clip, scratch / "second.mp4", start_seconds=3.0)
            held.append(not check_reuse(second, [ReuseReference("first half", first)]).passed)
        report["reuse_frr_new_take_same_framing"] = sum(held) / len(held)
        report["reuse_new_takes"] = len(held)
        others = [
            not check_reuse(clip, [ReuseReference(o.name, o) for o in clips if o != clip]).passed
            for clip in clips
        ]
        report["reuse_frr_different_recordings"] = sum(others) / len(others)
        print(json.dumps(report), file=sys.stderr, flush=True)
        # Manipulation analyzers: genuine clips (FRR), DFDC face swaps and TTS voice (FAR).
        genuine = {clip.name: _flagged(clip) for clip in clips}
        report["manipulation_frr"] = sum(any(f.values()) for f in genuine.values()) / len(genuine)
        report["manipulation_genuine_flags"] = {
            k: [a for a, f in v.items() if f] for k, v in genuine.items() if any(v.values())
        }
        swapped = {fake.name: _flagged(fake) for fake in fakes}
        report["face_swap_far"] = sum(not any(f.values()) for f in swapped.values()) / max(len(swapped), 1)
        report["face_swap_flags"] = {k: [a for a, f in v.items() if f] for k, v in swapped.items()}
        print(json.dumps(report), file=sys.stderr, flush=True)
        tts = []
        for number, text in enumerate(STATEMENTS):
            voice = synthesize(text).samples
            picture = clips[number % len(clips)]
            tts.append(_flagged(_mux(picture, voice, scratch / f"tts{number}.mp4")))
        report["synthetic_voice_far"] = sum(not any(f.values()) for f in tts) / len(tts)
        report["synthetic_voice_flags"] = [[a for a, f in v.items() if f] for v in tts]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
