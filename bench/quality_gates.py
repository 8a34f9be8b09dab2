"""Measure the quality-gate figures on real talking-head clips (the thresholds' source) and on renders.

    .venv/bin/python bench/quality_gates.py --media ../shared/media [--renders]

For every real clip in ``talking/grid`` and ``talking/retalking`` (real people with their own
sound): lip-sync at lag 0 and the best lag within ±5 frames (``avatars.engine.quality``, MediaPipe
face mesh), the clip's own half-vs-half identity distance (dlib embeddings), its worst frame-to-frame
face change, and the worst change of each half (how much the worst moves within one real clip).
The gate's thresholds are derived from these figures: lip-sync at least 0.8 x the GRID median,
and, where there is no enrollment footage, a worst change no larger than the largest real clip's.

With ``--renders`` it also renders the stock presenter and a footage-mode video from each
retalking clip as enrollment (with the synthetic voice) and prints what the gate says of them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from avatars.engine import quality  # noqa: E402

SCRIPT = (
    "Your blood pressure was a little high at your last visit. Take one tablet every morning with a "
    "glass of water, and check your pressure at home twice a week."
)


def real_clip(path: Path) -> dict[str, object]:
    """The gate's figures for one real clip, measured against itself."""
    from avatars.engine.media import read_audio
    from avatars.engine.speech import SAMPLE_RATE, speech_energy

    started = time.perf_counter()
    track = quality.track_video(path, embeddings=2 * quality.IDENTITY_SAMPLES)
    frames = len(track.openings)
    energy = speech_energy(read_audio(path)[: int(frames / track.fps * SAMPLE_RATE)], track.fps, frames)
    by_lag = {lag: quality.change_correlation(track.openings, energy, lag) for lag in range(-5, 6)}
    middle = len(track.embeddings) // 2
    import numpy as np

    own = float(
        np.linalg.norm(
            np.mean(track.embeddings[:middle], axis=0) - np.mean(track.embeddings[middle:], axis=0)
        )
    )
    half = len(track.changes) // 2
    halves = [np.nanmax(track.changes[:half]), np.nanmax(track.changes[half:])]
    return {
        "clip": f"{path.parent.name}/{path.name}",
        "frames": frames,
        "face_share": round(track.face_share, 3),
        "lip_sync_lag0": round(by_lag[0], 3),
        "best_lag": max(by_lag, key=lambda k: by_lag[k]),
        "own_identity_distance": round(own, 3),
        "worst_change": round(track.worst_change, 2),
        "worst_change_halves": [round(float(v), 2) for v in halves],
        "seconds": round(time.perf_counter() - started, 1),
    }


def renders(media: Path) -> None:
    """Render the stock presenter and footage mode from each retalking clip; print the gate's verdicts."""
    from avatars.engine import Disclosure, FootageAvatar, RenderSpec, ScriptNarration, StockAvatar, render

    disclosure = Disclosure(
        "AI-generated video. Questions? Call 555-0100.", "This video is computer made.", "End of video."
    )
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as folder:
        cases: list[tuple[str, object, Path | None]] = [("stock", StockAvatar(), None)]
        for clip in sorted((media / "talking" / "retalking").glob("*.mp4")):
            cases.append((f"footage {clip.name}", FootageAvatar(enrollment=clip), clip))
        for name, avatar, enrollment in cases:
            started = time.perf_counter()
            try:
                result = render(
                    RenderSpec(
                        avatar=avatar,  # type: ignore[arg-type]
                        narration=ScriptNarration(SCRIPT),
                        disclosure=disclosure,
                        output_dir=Path(folder) / name.replace(" ", "_"),
                    )
                )
            except Exception as exc:  # a bench reports every failure and goes on
                print(json.dumps({"render": name, "error": str(exc)}), flush=True)
                continue
            rendered = time.perf_counter() - started
            reference = quality.enrollment_reference_from_video(enrollment) if enrollment else None
            report = quality.assess_render(result.video, reference=reference)
            print(
                json.dumps(
                    {
                        "render": name,
                        "video_s": round(result.duration, 1),
                        "render_s": round(rendered, 1),
                        "gate_s": round(time.perf_counter() - started - rendered, 1),
                        "passed": report.passed,
                        **report.figures(),
                        "reasons": report.reasons,
                    }
                ),
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--renders", action="store_true")
    args = parser.parse_args()
    talking = args.media / "talking"
    rows = [real_clip(path) for path in sorted((talking / "grid").glob("*.mpg"))]
    rows += [real_clip(path) for path in sorted((talking / "retalking").glob("*.mp4"))]
    for row in rows:
        print(json.dumps(row), flush=True)
    grid = [float(r["lip_sync_lag0"]) for r in rows if str(r["clip"]).startswith("grid/")]  # type: ignore[arg-type]
    median = statistics.median(grid)
    print(
        json.dumps(
            {
                "grid_lip_sync_median": round(median, 3),
                "lip_sync_min (0.8 x median)": round(0.8 * median, 3),
                "largest_worst_change": max(float(r["worst_change"]) for r in rows),  # type: ignore[arg-type]
                "largest_own_identity_distance": max(float(r["own_identity_distance"]) for r in rows),  # type: ignore[arg-type]
            }
        ),
        flush=True,
    )
    if args.renders:
        renders(args.media)


if __name__ == "__main__":
    main()
