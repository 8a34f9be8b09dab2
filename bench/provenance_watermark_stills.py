"""False-sync and false-id rates of the watermark detector on unmarked still images.

Run from the repository root:

    .venv/bin/python bench/provenance_watermark_stills.py [--keys 4] [--frames-per-video 12] [--out FILE]

Stills are read from one frame, so the detector has no temporal carrier to lock on to: its
statistics are not the video ones, and neither is its false-positive bound. This measures them
on real pictures nobody watermarked:

1. every image of ../shared/media/faces and ../shared/media/forgery (JPEG and PNG), and
2. `--frames-per-video` frames spread over each talking-head and deepfake video of
   ../shared/media/talking and ../shared/media/forgery/dfdc/videos (decoded in memory, nothing
   is written out),

each looked at with `--keys` different watermark keys (a different key is a different keyed
pattern, so each key is an independent look for the null distribution). For every look it
records the sync z of each candidate the still detector tries (the static decode and the
one-frame carrier decode) and whether an id came out. It prints the distribution of the reported z
(the larger candidate, which the threshold is applied to), how many looks crossed the threshold
(false syncs) and how many gave an id (false ids), and the analytical bound from
`provenance.engine.watermark.false_positive_bound(still=True)`.
"""

from __future__ import annotations

import argparse
import json
import platform as std_platform
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from provenance.engine import watermark as wm  # noqa: E402
from provenance.engine.media_io import iter_frames  # noqa: E402

SHARED_MEDIA = ROOT.parent / "shared" / "media"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
VIDEO_SUFFIXES = {".mp4", ".mpg"}


def images() -> list[tuple[str, NDArray[np.uint8]]]:
    """Every still image under faces/ and forgery/, as RGB."""
    from PIL import Image

    found = []
    for folder in ("faces", "forgery"):
        for path in sorted((SHARED_MEDIA / folder).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(path) as img:
                    found.append((str(path.relative_to(SHARED_MEDIA)), np.asarray(img.convert("RGB"))))
    return found


def video_frames(per_video: int) -> list[tuple[str, NDArray[np.uint8]]]:
    """`per_video` frames spread evenly over each real video."""
    found = []
    folders = (SHARED_MEDIA / "talking", SHARED_MEDIA / "forgery" / "dfdc" / "videos")
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            total = sum(1 for _ in iter_frames(path, max_seconds=None))  # containers' counts vary
            wanted = {round(i * (total - 1) / max(1, per_video - 1)) for i in range(per_video)}
            for index, rgb in enumerate(iter_frames(path, max_seconds=None)):
                if index in wanted:
                    found.append((f"{path.relative_to(SHARED_MEDIA)}@{index}", rgb))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=4, help="independent watermark keys per image")
    parser.add_argument("--frames-per-video", type=int, default=12)
    parser.add_argument("--out", type=Path, help="also write every look as JSON here")
    args = parser.parse_args()
    if not SHARED_MEDIA.exists():
        print(f"{SHARED_MEDIA} is absent: nothing to measure.")
        return 1
    pictures = images() + video_frames(args.frames_per_video)
    keys = [f"candor-bench-stills-key-{k:02d}-0123456789abcdef".encode() for k in range(args.keys)]
    started = time.perf_counter()
    looks = []
    for name, rgb in pictures:
        for key in keys:
            detector = wm.WatermarkDetector(key)
            detector.add_frame(rgb)
            candidates = {c.mode: c.sync_score for c in detector.candidates()}
            result = detector.result()
            looks.append(
                {
                    "image": name,
                    "key": keys.index(key),
                    "z": result.sync_score,
                    "mode": result.mode,
                    "candidates": candidates,
                    "id": result.content_id_hex,
                }
            )
    seconds = time.perf_counter() - started
    z = np.array([look["z"] for look in looks])
    over = [look for look in looks if look["z"] >= wm.SYNC_THRESHOLD]
    ids = [look for look in looks if look["id"]]
    print(f"machine: {std_platform.machine()} Python {std_platform.python_version()}")
    print(
        f"{len(pictures)} unmarked pictures ({len(images())} images, the rest video frames) x {len(keys)} keys"
        f" = {len(looks)} looks in {seconds:.0f} s ({1000 * seconds / len(looks):.0f} ms per look)"
    )
    quantiles = np.quantile(z, [0.5, 0.9, 0.99])
    print(
        f"reported sync z: mean {z.mean():.2f}, median {quantiles[0]:.2f}, 90% {quantiles[1]:.2f},"
        f" 99% {quantiles[2]:.2f}, max {z.max():.2f} (threshold {wm.SYNC_THRESHOLD})"
    )
    for mode in sorted({m for look in looks for m in look["candidates"]}):
        values = np.array([look["candidates"][mode] for look in looks if mode in look["candidates"]])
        print(f"  candidate {mode}: mean {values.mean():.2f}, max {values.max():.2f}")
    edges = [0, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 100]
    counts, _ = np.histogram(z, bins=edges)
    print(
        "histogram: "
        + ", ".join(f"[{a:g}, {b:g}): {c}" for a, b, c in zip(edges, edges[1:], counts, strict=False))
    )
    worst = max(looks, key=lambda look: look["z"])
    print(f"highest: {worst['image']} key {worst['key']} z {worst['z']:.2f} ({worst['mode']})")
    print(f"false syncs (z >= {wm.SYNC_THRESHOLD}): {len(over)} of {len(looks)}; false ids: {len(ids)}")
    print(f"analytical bound, stills: {wm.false_positive_bound(still=True):.2g} false ids per image")
    if args.out:
        args.out.write_text(json.dumps(looks, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
