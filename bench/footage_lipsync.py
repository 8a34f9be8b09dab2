"""Footage mode's lip-sync and identity on every talking-head clip used as an enrollment, TTS narration.

`bench/avatar_render.py --quality` measures footage mode on five GRID enrollment/recorded-narration
pairs; this adds every clip in ../shared/media/talking (GRID and retalking 1-3) as the enrollment
with a synthetic (TTS) narration, measured with dlib's 68-point model (which the renderer does not
use) against ten other TTS narrations as controls, and identity against the enrollment's own
half-vs-half distance. The enrollments are analysed with no minimum length (the clips are 3-7 s).

    PYTHONPATH=platform:. .venv/bin/python bench/footage_lipsync.py [--media ../shared/media] [--clips NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

NARRATION = (
    "Good morning. Please take one tablet twice a day with food, and drink plenty of water. "
    "If the rash spreads or you feel short of breath, call the clinic straight away."
)


def main() -> None:
    from avatars.engine import Disclosure, FootageAvatar, RenderSpec, ScriptNarration, render, synthesize
    from avatars.engine.enrollment import analyze_enrollment
    from bench.avatar_quality import measure, track_face
    from bench.avatar_render import CONTROL_SCRIPTS, INTRO, OUTRO, _write_wav

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    parser.add_argument("--clips", nargs="*")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    talking = args.media / "talking"
    clips = sorted((talking / "grid").glob("*.mpg")) + sorted((talking / "retalking").glob("*.mp4"))
    if args.clips:
        clips = [clip for clip in clips if clip.name in args.clips]
    disclosure = Disclosure("AI video of a consenting clinician. Help: 555-0100", INTRO, OUTRO)
    print(
        "| enrollment | lip-sync at offset 0 | best offset | beats controls | identity vs enrollment halves |"
    )
    print("|---|---|---|---|---|")
    scores = []
    with tempfile.TemporaryDirectory(prefix="footage-lipsync-") as scratch_name:
        scratch = Path(scratch_name)
        controls = []
        for index, text in enumerate(CONTROL_SCRIPTS):
            path = scratch / f"control{index}.wav"
            _write_wav(path, synthesize(text).samples)
            controls.append(path)
        for clip in clips:
            analysis = scratch / f"{clip.stem}.npz"
            analyze_enrollment(clip, min_usable_seconds=0).save(analysis)
            result = render(
                RenderSpec(
                    FootageAvatar(clip, analysis=analysis),
                    ScriptNarration(NARRATION),
                    disclosure,
                    scratch / clip.stem,
                    width=args.width,
                    height=args.height,
                )
            )
            quality = measure(
                result.video,
                controls=controls,
                reference=clip,
                segment=(result.narration_start, result.narration_end),
            )
            embeddings = track_face(clip, embed_every=5).embeddings
            half = len(embeddings) // 2
            halves = float(
                np.median(np.linalg.norm(embeddings[half:] - embeddings[:half].mean(axis=0), axis=1))
            )
            scores.append(quality.lip_sync.correlation)
            print(
                f"| {clip.parent.name}/{clip.name} | {quality.lip_sync.correlation:.2f} | "
                f"{quality.lip_sync.best_offset_frames} | {quality.beats_controls}/{len(quality.controls)} | "
                f"{quality.identity:.3f} vs {halves:.3f} |",
                flush=True,
            )
    print(
        f"\nlip-sync at offset 0: median {statistics.median(scores):.2f}, range {min(scores):.2f}-{max(scores):.2f}"
    )


if __name__ == "__main__":
    main()
