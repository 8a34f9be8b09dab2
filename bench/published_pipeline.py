"""Benchmark the whole published render pipeline at 720p: render + watermark + sign + fingerprint.

    .venv/bin/python bench/published_pipeline.py [--seconds 20 600] [--repeat 2] [--old]

What a clinic waits for between "Render" and a video it can review: the stock presenter rendered
through ``avatars.engine.render`` with the platform watermark put on each frame before the one
encode (``provenance.engine.watermark.OutputMarker``, as ``avatars.services.renders`` wires it),
the MP4 and poster signed with C2PA (``sign_media``), and the signed MP4 fingerprinted for the
registry (``fingerprint_video``). Key and certificate set-up is not timed (it happens once per
server).

The reference of the same run is *encode-only*: the published video's frames and sound encoded
again with the same writer and settings. It is measured as (decode + encode) minus decode alone,
two children reading the same file, so no raw frames need to be stored (10 min of 720p RGB would
be 41 GB). ``--old`` also times the previous pipeline (render, then decode and re-encode the whole
file to watermark it) for comparison.

Each phase runs in its own child process, so its peak resident memory (from ``wait4``) is its
own. The load average before and after each phase is printed: this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from bench.avatar_render import INTRO, LABEL, OUTRO, SENTENCES  # noqa: E402

KEY = b"bench-watermark-key-published-pipeline"


def _script(seconds: float) -> str:
    """Sentences enough for about `seconds` of video (disclaimers and pauses take about 7 s).

    Each sentence's length is measured once: `bench.avatar_render` re-synthesizes the growing
    script per sentence, which for ten minutes would take longer than the render.
    """
    from avatars.engine import synthesize

    lengths = [synthesize(sentence).duration for sentence in SENTENCES]
    words: list[str] = []
    total = 7.0
    while total < seconds:
        words.append(SENTENCES[len(words) % len(SENTENCES)])
        total += lengths[(len(words) - 1) % len(SENTENCES)]
    return " ".join(words)


def _spec(script: str, out: Path, width: int, height: int) -> Any:
    from avatars.engine import Disclosure, RenderSpec, ScriptNarration, StockAvatar

    return RenderSpec(
        StockAvatar(),
        ScriptNarration(script),
        Disclosure(LABEL, INTRO, OUTRO),
        out,
        width=width,
        height=height,
    )


def child_published(args: argparse.Namespace) -> None:
    from avatars.engine import render
    from provenance.engine import keys
    from provenance.engine import watermark as wm
    from provenance.engine.c2pa_sign import ConsentAssertion, sign_media
    from provenance.engine.fingerprint import fingerprint_video

    identity = keys.issue_clinic_identity(keys.generate_root_ca(), clinic_id="bench", clinic_name="Bench")
    out = Path(args.out)
    spec = _spec(Path(args.script).read_text(), out, args.width, args.height)
    times: dict[str, float] = {}
    started = time.perf_counter()
    if args.old:
        result = render(spec)
        mark = time.perf_counter()
        times["render"] = mark - started
        video_id = wm.new_content_id()
        marked = wm.embed_video(result.video, out / "marked.mp4", key=KEY, content_id=video_id).path
        poster = result.poster  # the old pipeline also re-encoded the poster; too small to matter here
        times["watermark_reencode"] = time.perf_counter() - mark
        psnr = float("nan")
    else:
        marker = wm.OutputMarker(key=KEY, width=spec.width, height=spec.height, fps=spec.fps)
        result = render(spec, marker=marker)
        times["render_and_watermark"] = time.perf_counter() - started
        marked, poster, video_id, psnr = result.video, result.poster, marker.video_id, marker.psnr_db
    mark = time.perf_counter()
    consent = ConsentAssertion(
        clinic_id="bench",
        ledger_entry_id="1",
        consent_ids=(),
        disclosure_text=LABEL,
        content_id=wm.content_id_hex(video_id),
    )
    signed = sign_media(marked, out / "signed.mp4", identity=identity, consent=consent).path
    sign_media(poster, out / "signed.jpg", identity=identity, consent=consent)
    times["sign"] = time.perf_counter() - mark
    mark = time.perf_counter()
    fingerprint = fingerprint_video(signed)
    times["fingerprint"] = time.perf_counter() - mark
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall": wall,
                "duration": result.duration,
                "frames": result.frame_count,
                "times": times,
                "engine": result.timings,
                "psnr_db": psnr,
                "fingerprint_samples": int(fingerprint.hashes.shape[0]),
                "signed": str(signed),
            }
        )
    )


def child_reencode(args: argparse.Namespace) -> None:
    """Decode the published video; with --encode also encode it again as the render does."""
    from core.media.mp4 import Mp4Writer
    from provenance.engine.media_io import iter_audio, iter_frames, video_info

    source = Path(args.source)
    info = video_info(source)
    started = time.perf_counter()
    frames = 0
    if args.encode:
        with Mp4Writer(Path(args.out), width=info.width, height=info.height, fps=info.rate) as writer:
            for rgb in iter_frames(source, max_seconds=None):
                writer.write_frame(rgb)
                frames += 1
            for chunk in iter_audio(source):
                writer.write_audio(chunk)
    else:
        for _ in iter_frames(source, max_seconds=None):
            frames += 1
        for _ in iter_audio(source):
            pass
    print(json.dumps({"wall": time.perf_counter() - started, "frames": frames}))


def _run_child(*arguments: str) -> tuple[dict[str, Any], float, tuple[float, float]]:
    """Run this script as a child; its JSON output, peak RSS in MiB and 1-min load before/after."""
    before = os.getloadavg()[0]
    process = subprocess.Popen([sys.executable, __file__, *arguments], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read() if process.stdout else ""
    if status != 0:
        raise SystemExit(f"child {arguments[:2]} failed with status {status}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024, (before, os.getloadavg()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[20.0, 600.0])
    parser.add_argument("--repeat", type=int, default=1, help="pipeline runs per length")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--old", action="store_true", help="also time the old re-encoding pipeline")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip encode-only (long videos on a loaded machine)"
    )
    parser.add_argument("--child", choices=["published", "reencode"])
    parser.add_argument("--script")
    parser.add_argument("--out")
    parser.add_argument("--source")
    parser.add_argument("--encode", action="store_true")
    args = parser.parse_args()
    if args.child == "published":
        return child_published(args)
    if args.child == "reencode":
        return child_reencode(args)

    size = ["--width", str(args.width), "--height", str(args.height)]
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="published-bench-") as scratch_name:
        scratch = Path(scratch_name)
        for seconds in args.seconds:
            script = scratch / f"script{seconds:g}.txt"
            script.write_text(_script(seconds))
            variants = [("new", [])] + ([("old", ["--old"])] if args.old else [])
            for name, flag in variants:
                for run in range(args.repeat):
                    out = scratch / f"{name}{seconds:g}-{run}"
                    result, rss, load = _run_child(
                        "--child", "published", "--script", str(script), "--out", str(out), *size, *flag
                    )
                    signed = Path(result["signed"])
                    if args.no_reference:
                        duration = result["duration"]
                        row = {
                            "pipeline": name,
                            "run": run + 1,
                            "video_s": round(duration, 2),
                            "pipeline_s": round(result["wall"], 2),
                            "s_per_s": round(result["wall"] / duration, 3),
                            "steps_s": {k: round(v, 2) for k, v in result["times"].items()},
                            "peak_rss_mib": round(rss),
                            "load_1min": [round(v, 2) for v in load],
                        }
                        print(json.dumps(row), flush=True)
                        continue
                    both, both_rss, load_encode = _run_child(
                        "--child", "reencode", "--source", str(signed), "--encode",
                        "--out", str(scratch / "reencoded.mp4"),
                    )  # fmt: skip
                    decode, _, load_decode = _run_child("--child", "reencode", "--source", str(signed))
                    encode_only = both["wall"] - decode["wall"]
                    duration = result["duration"]
                    print(
                        json.dumps(
                            {
                                "pipeline": name,
                                "run": run + 1,
                                "video_s": round(duration, 2),
                                "frames": result["frames"],
                                "pipeline_s": round(result["wall"], 2),
                                "s_per_s": round(result["wall"] / duration, 3),
                                "steps_s": {k: round(v, 2) for k, v in result["times"].items()},
                                "engine_s": {k: round(v, 2) for k, v in result["engine"].items()},
                                "encode_only_s": round(encode_only, 2),
                                "encode_only_s_per_s": round(encode_only / duration, 3),
                                "pipeline_over_encode_only": round(result["wall"] / encode_only, 2),
                                "decode_s": round(decode["wall"], 2),
                                "peak_rss_mib": round(rss),
                                "reencode_peak_rss_mib": round(both_rss),
                                "psnr_db": result["psnr_db"],
                                "load_1min": {
                                    "pipeline": [round(v, 2) for v in load],
                                    "reencode": [round(v, 2) for v in load_encode],
                                    "decode": [round(v, 2) for v in load_decode],
                                },
                            }
                        ),
                        flush=True,
                    )
                    for path in out.glob("*"):
                        path.unlink()


if __name__ == "__main__":
    main()
