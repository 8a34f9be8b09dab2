"""Measure the DICOM copy-move detector on copy-move edits made here from the shared pydicom slices.

    PYTHONPATH=platform:. .venv/bin/python bench/dicom_copy_move.py [--per-source 25] [--out FILE]

Sources are split by image: the dev sources only fix the operating threshold (at <=1% FPR on dev
negatives); AUC and TPR at 1% FPR are reported on the held-out test sources. Negatives are random
crops of untouched slices; positives are random crops with one textured square region (12 px to a
quarter of the crop) copied to another place at least 20 px away, half of them with Gaussian noise
(0.5% of the slice's range) added to the pasted copy.
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from detection.engine.dicom import read_instance, read_upload
from detection.engine.dicom.copy_move import copy_move, copy_move_between, scaled
from detection.engine.dicom.integrity import integrity_record

DICOM = Path(__file__).resolve().parents[2] / "shared" / "media" / "medical" / "dicom"
DEV = ["CT_small.dcm", "MR_small.dcm", "image_dfl.dcm"]
TEST = [
    "693_J2KI.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "JPEG2000.dcm",
    "examples_overlay.dcm",
    "examples_palette.dcm",
    "examples_jpeg2k.dcm",
    "examples_ybr_color.dcm",
]


def crops(frame: np.ndarray, rng: np.random.Generator, count: int, size: int) -> list[np.ndarray]:
    rows, cols = frame.shape[:2]
    out = []
    for _ in range(count):
        y = int(rng.integers(0, rows - size + 1))
        x = int(rng.integers(0, cols - size + 1))
        out.append(frame[y : y + size, x : x + size].copy())
    return out


def copy_moved(crop: np.ndarray, rng: np.random.Generator, noisy: bool) -> np.ndarray | None:
    size = crop.shape[0]
    grey = scaled(crop)
    low, high = np.percentile(crop.astype(np.float64), [0.5, 99.5])
    for _ in range(200):
        patch = int(rng.integers(12, max(13, size // 4 + 1)))
        sy, sx = (int(v) for v in rng.integers(0, size - patch + 1, size=2))
        if grey[sy : sy + patch, sx : sx + patch].std() < 0.05:
            continue  # a flat region: copying it changes nothing visible
        dy, dx = (int(v) for v in rng.integers(0, size - patch + 1, size=2))
        if abs(dy - sy) < patch and abs(dx - sx) < patch or np.hypot(dy - sy, dx - sx) < 20:
            continue
        edited = crop.copy()
        piece = crop[sy : sy + patch, sx : sx + patch].astype(np.float64)
        if noisy:
            piece = piece + rng.normal(0, 0.005 * max(high - low, 1.0), piece.shape)
        info = np.iinfo(crop.dtype) if np.issubdtype(crop.dtype, np.integer) else None
        if info is not None:
            piece = np.clip(np.round(piece), info.min, info.max)
        edited[dy : dy + patch, dx : dx + patch] = piece.astype(crop.dtype)
        return edited
    return None


def dataset(names: list[str], per_source: int) -> tuple[list[float], list[int], list[float], list[str]]:
    scores, labels, seconds, sources = [], [], [], []
    for number, name in enumerate(names):
        frame = read_instance((DICOM / name).read_bytes()).frames[0]
        rng = np.random.default_rng(1000 + number)
        size = min(128, frame.shape[0], frame.shape[1])
        negatives = crops(frame, rng, per_source, size)
        positives = []
        for index, crop in enumerate(crops(frame, rng, per_source * 2, size)):
            edited = copy_moved(crop, rng, noisy=index % 2 == 1)
            if edited is not None and len(positives) < per_source:
                positives.append(edited)
        for label, items in ((0, negatives), (1, positives)):
            for item in items:
                started = time.perf_counter()
                result = copy_move(item)
                seconds.append(time.perf_counter() - started)
                scores.append(result.score)
                labels.append(label)
                sources.append(name)
    return scores, labels, seconds, sources


CROSS_SOURCE = "examples_ybr_color.dcm"


def cross_slice() -> list[str]:
    """Neighbouring frame pairs of the one multi-frame real source, untouched and with a textured region
    of frame k copied to another place of frame k+1 (fixed parameters, nothing tuned on it)."""
    frames = read_instance((DICOM / CROSS_SOURCE).read_bytes()).frames
    rng = np.random.default_rng(7)
    scores, labels, seconds = [], [], []
    for k in range(len(frames) - 1):
        first, second = frames[k], frames[k + 1]
        rows, cols = first.shape[:2]
        edited = None
        for _ in range(200):
            patch = int(rng.integers(16, 48))
            sy, sx = int(rng.integers(0, rows - patch)), int(rng.integers(0, cols - patch))
            dy, dx = int(rng.integers(0, rows - patch)), int(rng.integers(0, cols - patch))
            if (
                scaled(first)[sy : sy + patch, sx : sx + patch].std() < 0.05
                or np.hypot(dy - sy, dx - sx) < 20
            ):
                continue
            edited = second.copy()
            edited[dy : dy + patch, dx : dx + patch] = first[sy : sy + patch, sx : sx + patch]
            break
        for label, other in ((0, second), (1, edited)):
            if other is None:
                continue
            started = time.perf_counter()
            scores.append(copy_move_between(first, other).score)
            seconds.append(time.perf_counter() - started)
            labels.append(label)
    s, lab = np.array(scores), np.array(labels)
    tpr, threshold = tpr_at_fpr(s, lab, 0.01)
    return [
        f"Across neighbouring slices (copy_move_between), one source only ({CROSS_SOURCE}, "
        f"{len(frames)} frames of an ultrasound cine, 240x320): {int((lab == 0).sum())} untouched and "
        f"{int((lab == 1).sum())} edited neighbour pairs (region 16-47 px from frame k pasted >= 20 px "
        "away in frame k+1, no noise).",
        f"ROC AUC {auc(s, lab):.3f}; TPR at 1% FPR {tpr:.3f} (score > {threshold:g}, i.e. above every "
        f"untouched pair); {np.median(seconds):.2f} s per pair. One source: an indication, not a measurement "
        "that generalises.",
    ]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> tuple[float, float]:
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(fpr * negatives.size))
    threshold = negatives[allowed] if allowed < negatives.size else -np.inf  # strictly above this
    return float((scores[labels == 1] > threshold).mean()), float(threshold)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-source", type=int, default=25)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--dev-only", action="store_true", help="only the dev sources (for choosing parameters)"
    )
    args = parser.parse_args()
    dev = [np.array(v) for v in dataset(DEV, args.per_source)[:3]]
    if args.dev_only:
        print(f"dev AUC {auc(dev[0], dev[1]):.3f} TPR@1%FPR {tpr_at_fpr(dev[0], dev[1], 0.01)[0]:.3f}")
        print(
            "neg",
            np.percentile(dev[0][dev[1] == 0], [50, 90, 99, 100]),
            "pos",
            np.percentile(dev[0][dev[1] == 1], [10, 50]),
        )
        return
    test_scores, test_labels, test_seconds, test_sources = dataset(TEST, args.per_source)
    scores, labels, seconds = np.array(test_scores), np.array(test_labels), np.array(test_seconds)
    _, dev_threshold = tpr_at_fpr(dev[0], dev[1], 0.01)
    tpr, threshold = tpr_at_fpr(scores, labels, 0.01)
    lines = [
        "# DICOM copy-move detector (issue 17), measured on edits made here",
        "",
        "Command: `PYTHONPATH=platform:. .venv/bin/python bench/dicom_copy_move.py "
        f"--per-source {args.per_source}`",
        "",
        f"- Dev sources (threshold only): {', '.join(DEV)}",
        f"- Test sources: {', '.join(TEST)}",
        f"- Test slices: {int((labels == 1).sum())} copy-move, {int((labels == 0).sum())} untouched "
        "(crops of at most 128x128)",
        f"- ROC AUC (test): {auc(scores, labels):.3f}",
        f"- TPR at 1% FPR (test, threshold from the test negatives: score > {threshold:g}): {tpr:.3f}",
        f"- At the dev threshold (score > {dev_threshold:g}): TPR {(scores[labels == 1] > dev_threshold).mean():.3f}, "
        f"FPR {(scores[labels == 0] > dev_threshold).mean():.3f}",
        f"- Time per slice (<=128x128): median {np.median(seconds) * 1000:.1f} ms, "
        f"p95 {np.percentile(seconds, 95) * 1000:.1f} ms",
        "",
        "| source | untouched: median score | copy-move: median score | AUC |",
        "|---|---|---|---|",
    ]
    names = np.array(test_sources)
    for name in TEST:
        mask = names == name
        s, lab = scores[mask], labels[mask]
        if (lab == 1).any() and (lab == 0).any():
            lines.append(
                f"| {name} | {np.median(s[lab == 0]):g} | {np.median(s[lab == 1]):g} | {auc(s, lab):.3f} |"
            )
    lines += [
        "",
        "Full-size slices (one run each; copy-move, and ingest = read + checks + integrity record):",
        "",
    ]
    lines += ["| source | size | copy-move s | ingest s |", "|---|---|---|---|"]
    for name in DEV + TEST:
        data = (DICOM / name).read_bytes()
        started = time.perf_counter()
        instance = read_instance(data)
        integrity_record(instance)
        ingest = time.perf_counter() - started
        frame = instance.frames[0]
        started = time.perf_counter()
        copy_move(frame)
        lines.append(
            f"| {name} | {'x'.join(map(str, frame.shape))} | {time.perf_counter() - started:.2f} | {ingest:.3f} |"
        )
    lines += ["", *cross_slice()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(DICOM.glob("*.dcm")):
            archive.write(path, path.name)
    started = time.perf_counter()
    upload = read_upload(buffer.getvalue())
    for instance in upload.accepted:
        integrity_record(instance)
    lines += [
        "",
        f"Per study: ingest (read, checks, integrity records) of a zip of every shared .dcm file "
        f"({len(upload.instances)} instances, {len(upload.accepted)} accepted, "
        f"{sum(len(i.frames) for i in upload.accepted)} frames): {time.perf_counter() - started:.2f} s",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
