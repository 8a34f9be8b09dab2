"""Footage mode's seam figure: the worst frame-to-frame change of the face region, output vs enrollment.

Each clip is used as an enrollment (analysed with no minimum length: the public clips are 3-7 s)
and footage mode makes the idle-plus-mouth frames for a TTS narration. The face region is a fixed
square around the enrollment's median face (forehead to chin), scaled to 64x64 grey; its mean
absolute change between consecutive frames (grey levels) is measured on the enrollment itself and
on the output, both framed and scaled as the output is. A seam (a cut between two head positions, a cross-fade, a pasted patch that jumps)
shows as output changes beyond the enrollment's own worst.

A cross-fade between two head positions spreads its change over several frames, so it need not
exceed that worst; it does show as a picture unlike any real one. The second figure is therefore
the eye region's distance (64x28 grey, forehead to below the eyes, where the mouth composite never
reaches) from the nearest enrollment frame, in units of the enrollment's median frame-to-frame
change of that region: a doubled eye or brow scores well above 1, a real frame 0.

Command line (internal evaluation on ../shared/media; `--code` runs another checkout, e.g. the
code before a change, with this same measure)::

    PYTHONPATH=platform:. .venv/bin/python bench/footage_seams.py [--media ../shared/media]
        [--width 640 --height 360] [--sheet docs/footage-seams.png] [--code /tmp/old-checkout]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

NARRATION = (
    "Good morning. Please take one tablet twice a day with food, and drink plenty of water. "
    "If the rash spreads or you feel short of breath, call the clinic straight away."
)
CROP = 64
SHEET_CROP = 112


def face_box(points: NDArray[np.float64]) -> tuple[float, float, float]:
    """(centre x, centre y, half side) of the face square for a track of 5-point landmarks."""
    eyes = np.nanmedian(points[:, :4].mean(axis=1), axis=0)
    spread = float(np.nanmedian(np.linalg.norm(points[:, 0] - points[:, 2], axis=1)))
    return float(eyes[0]), float(eyes[1] + 0.45 * spread), 1.15 * spread


def crop(frame: NDArray[np.uint8], box: tuple[float, float, float], size: int, *, grey: bool) -> NDArray[Any]:
    """The face square of `frame`, area-averaged to `size` pixels (no aliasing, whatever the scale)."""
    import cv2

    x, y, half = box
    left, top, side = int(round(x - half)), int(round(y - half)), int(round(2 * half))
    pad = max(0, -left, -top, left + side - frame.shape[1], top + side - frame.shape[0])
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    square = frame[top + pad : top + pad + side, left + pad : left + pad + side]
    picture = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float32) if grey else picture


def upper(crops: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    """The eye band of each face crop (rows 0-28 of 64), flattened."""
    return np.stack([c[:28].reshape(-1) for c in crops])


def nearest_real(made: NDArray[np.float32], real: NDArray[np.float32]) -> NDArray[np.float64]:
    """Mean absolute difference of each output eye band from the closest enrollment eye band."""
    result = np.empty(len(made))
    for start in range(0, len(made), 32):
        block = np.abs(made[start : start + 32, None, :] - real[None, :, :]).mean(axis=2)
        result[start : start + 32] = block.min(axis=1)
    return result


def changes(crops: list[NDArray[np.float32]]) -> NDArray[np.float64]:
    return np.array([float(np.abs(b - a).mean()) for a, b in zip(crops, crops[1:], strict=False)])


def measure_clip(clip: Path, width: int, height: int, keep_pictures: bool) -> dict[str, Any]:
    from avatars.engine import Disclosure, ScriptNarration, build_speech, mouth_track
    from avatars.engine.enrollment import analyze_enrollment
    from avatars.engine.footage import FootageSource
    from avatars.engine.media import iter_video_frames
    from avatars.engine.motion import idle_motion

    try:
        analysis = analyze_enrollment(clip, min_usable_seconds=0.0)  # type: ignore[call-arg]
    except TypeError:  # code from before the minimum existed
        analysis = analyze_enrollment(clip)
    disclosure = Disclosure(
        "AI video, with consent. Questions: 555-0100", "This is an AI video.", "Thank you."
    )
    speech = build_speech(ScriptNarration(NARRATION), disclosure).speech
    count = int(np.ceil(speech.duration * analysis.fps))
    mouths = mouth_track(speech, analysis.fps, count)
    started = time.perf_counter()
    source = FootageSource(clip, width, height, analysis=analysis)
    if hasattr(source, "to_output"):
        points = source.to_output(analysis.landmarks[analysis.usable])
    else:  # the cover-and-crop framing of the code before
        points = analysis.landmarks[analysis.usable] * source.scale - [source.crop_x, source.crop_y]
    output_box = face_box(points)
    # The enrollment as this version frames it (same crop, same scale), so both sides of every
    # comparison went through the same resampling.
    own_crops = [
        crop(source._to_output(frame), output_box, CROP, grey=True) for frame in iter_video_frames(clip)
    ]
    own = changes(own_crops)
    own_upper = upper(own_crops)
    upper_step = float(np.median(np.abs(np.diff(own_upper, axis=0)).mean(axis=1)))
    greys, pictures = [], []
    for frame in source.frames(mouths, idle_motion(count, analysis.fps, seed=7)):
        greys.append(crop(frame, output_box, CROP, grey=True))
        if keep_pictures:
            pictures.append(crop(frame, output_box, SHEET_CROP, grey=False))
    seconds = time.perf_counter() - started
    made = changes(greys)
    ghost = nearest_real(upper(greys), own_upper) / upper_step
    jumps = [vars(jump) for jump in getattr(source, "jumps", [])]
    return {
        "clip": clip.name,
        "frames": count,
        "enrollment_frames": analysis.frame_count,
        "own_worst": float(own.max()),
        "own_p99": float(np.percentile(own, 99)),
        "output_worst": float(made.max()),
        "output_p99": float(np.percentile(made, 99)),
        "over_own_worst": int((made > own.max()).sum()),
        "worst_at": int(np.argmax(made)) + 1,
        "ghost_worst": float(ghost.max()),
        "ghost_frames": int((ghost > 1.0).sum()),
        "ghost_at": int(np.argmax(ghost)),
        "jumps": jumps,
        "seconds_per_frame": seconds / count,
        "_pictures": pictures,
        "_changes": made,
    }


def contact_sheet(results: list[dict[str, Any]], path: Path, rows: int = 8) -> None:
    """Rows of face crops around the idle walk's jumps: 2 frames before, the bridge, 2 after."""
    from PIL import Image, ImageDraw

    lines: list[tuple[str, list[NDArray[np.uint8]], list[float]]] = []
    # The retalking clips first (moving heads, the harder case), then GRID; each distinct jump once,
    # at most two per clip.
    ordered = sorted(results, key=lambda result: not result["clip"].endswith(".mp4"))
    for result in ordered:
        seen: set[tuple[int, int]] = set()
        for jump in result["jumps"]:
            if len(lines) >= rows or len(seen) >= 2 or (jump["source"], jump["target"]) in seen:
                continue
            seen.add((jump["source"], jump["target"]))
            first = max(0, jump["at"] - 2)
            last = min(len(result["_pictures"]), jump["at"] + jump["bridged"] + 3)
            if last - first < 3:
                continue
            title = (
                f"{result['clip']}: frame {jump['source']} -> {jump['target']}, cost {jump['cost']:.1f}, "
                f"{jump['bridged']} in-between"
            )
            steps = [float(result["_changes"][i - 1]) if i > 0 else 0.0 for i in range(first, last)]
            lines.append((title, result["_pictures"][first:last], steps))
    if not lines:
        return
    columns = max(len(pictures) for _, pictures, _ in lines)
    cell, header = SHEET_CROP + 4, 16
    sheet = Image.new("RGB", (columns * cell + 4, len(lines) * (cell + header + 12) + 4), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for row, (title, pictures, steps) in enumerate(lines):
        y = 4 + row * (cell + header + 12)
        draw.text((4, y), title, fill=(0, 0, 0))
        for column, (picture, step) in enumerate(zip(pictures, steps, strict=True)):
            sheet.paste(Image.fromarray(picture), (4 + column * cell, y + header))
            draw.text((6 + column * cell, y + header + SHEET_CROP + 1), f"d={step:.1f}", fill=(60, 60, 60))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media"
    )
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--code", type=Path, help="import the engine from this checkout instead")
    parser.add_argument("--json", type=Path, help="also write every figure and jump here")
    parser.add_argument("--clips", nargs="*", help="clip names (default: every GRID and retalking clip)")
    args = parser.parse_args()
    root = args.code.resolve() if args.code else Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "platform"), str(root)]
    warnings.simplefilter("ignore")
    talking = args.media / "talking"
    clips = sorted((talking / "grid").glob("*.mpg")) + sorted((talking / "retalking").glob("*.mp4"))
    if args.clips:
        clips = [clip for clip in clips if clip.name in args.clips]
    results = []
    print(
        "| clip | face change: enrollment worst (p99) | output worst (p99) | output frames over enrollment worst "
        "| eye band vs nearest real frame: worst | frames > 1 step | jumps (bridged) | s per frame |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for clip in clips:
        result = measure_clip(clip, args.width, args.height, keep_pictures=args.sheet is not None)
        results.append(result)
        bridged = sum(1 for jump in result["jumps"] if jump["bridged"])
        print(
            f"| {clip.parent.name}/{clip.name} | {result['own_worst']:.1f} ({result['own_p99']:.1f}) | "
            f"{result['output_worst']:.1f} ({result['output_p99']:.1f}) | {result['over_own_worst']}/{result['frames'] - 1} | "
            f"{result['ghost_worst']:.2f} | {result['ghost_frames']} | "
            f"{len(result['jumps'])} ({bridged}) | {result['seconds_per_frame']:.3f} |",
            flush=True,
        )
    ratios = [r["output_worst"] / r["own_worst"] for r in results]
    within = sum(1 for r in results if r["output_worst"] <= r["own_worst"])
    print(
        f"\nworst output / worst enrollment: median {np.median(ratios):.2f}, max {max(ratios):.2f}; "
        f"within: {within}/{len(results)}; eye band worst: median "
        f"{np.median([r['ghost_worst'] for r in results]):.2f}, max {max(r['ghost_worst'] for r in results):.2f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in results])
        )
    if args.sheet:
        contact_sheet(results, args.sheet)


if __name__ == "__main__":
    main()
