"""Injected/removed-lesion classifier, measured leave-one-source-group-out on edits made here.

    PYTHONPATH=platform:. .venv/bin/python bench/dicom_lesions_cv.py [--per-kind 150] [--model features|cnn]

Every real slice source in ../shared/media/medical/dicom with texture is a group (variants of one image,
e.g. the MR_small re-encodings, or images that may show the same anatomy, are one group). For each group,
a classifier is trained on windows from all OTHER groups and scores the held-out group's windows; the
held-out scores of all groups are pooled for ROC AUC and TPR at 1% FPR. No group ever scores itself.

Edits (detection.engine.dicom.lesions, CT-GAN manner): a blended, noise-matched nodule injected or a
region removed by harmonic filling, with random size, contrast, blur radius and noise matching (white
noise at the window's level, or noise borrowed from elsewhere in the same slice), written back on the
slice's own integer grid (as an edited DICOM would be).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "platform"),
]

from detection.engine.dicom import lesions  # noqa: E402
from detection.engine.dicom.reader import read_instance  # noqa: E402
from detection.engine.metrics import roc_auc, tpr_at_fpr  # noqa: E402

SHARED = Path(os.environ.get("CANDOR_SHARED_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media"))
DICOM = SHARED / "medical" / "dicom"


def crop_scores(
    frames: list[np.ndarray], model: dict, count: int, seed: int
) -> tuple[list[float], list[float]]:
    """Slice-level scores (largest window probability) of `count` untouched and `count` edited crops of
    at most 128x128, each edited crop with one lesion injected or removed at a random tissue place."""
    rng = np.random.default_rng(seed)
    clean: list[float] = []
    edited: list[float] = []
    for number in range(count * 2):
        frame = frames[number % len(frames)]
        rows, cols = frame.shape
        h, w = min(rows, 128), min(cols, 128)
        y0, x0 = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
        crop = frame[y0 : y0 + h, x0 : x0 + w].copy()
        if number % 2:
            windows, corners = lesions.tissue_windows(crop, 4)
            if not corners:
                continue
            y, x = corners[int(rng.integers(len(corners)))]
            dy, dx = int(rng.integers(0, h - 32 + 1)), int(rng.integers(0, w - 32 + 1))
            kind = "inject" if rng.random() < 0.5 else "remove"
            region = lesions._edit(crop[y : y + 32, x : x + 32], crop[dy : dy + 32, dx : dx + 32], kind, rng)
            crop[y : y + 32, x : x + 32] = np.clip(np.round(region), frame.min(), frame.max())
            edited.append(lesions.slice_lesion_map(crop, model)[0])
        else:
            clean.append(lesions.slice_lesion_map(crop, model)[0])
    return clean, edited


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--crops", type=int, default=25)
    parser.add_argument("--model", default="features", choices=["features", "cnn"])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    data = {}
    for group, names in lesions.SOURCE_GROUPS.items():
        slices = [read_instance((DICOM / n).read_bytes()).frames for n in names]
        frames = [lesions.grey_integer(f) for fs in slices for f in fs]
        data[group] = lesions.edited_windows(frames, args.per_kind, seed=hash(group) % 1000)
    built = time.perf_counter() - started
    print(f"windows built in {built:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    scores, labels, kinds, groups = [], [], [], []
    crops: dict[str, tuple[list[float], list[float]]] = {}
    frames_of = {
        group: [
            lesions.grey_integer(f) for n in names for f in read_instance((DICOM / n).read_bytes()).frames
        ]
        for group, names in lesions.SOURCE_GROUPS.items()
    }
    for held in data:
        train = [data[g] for g in data if g != held]
        x = np.concatenate([t[0] for t in train])
        y = np.concatenate([t[1] for t in train])
        r = np.concatenate([t[3] for t in train])
        model = lesions.train_classifier(x, y, r, epochs=args.epochs, kind=args.model)
        s = lesions.classify_windows(data[held][0], data[held][3], model)
        scores.append(s)
        labels.append(data[held][1])
        kinds.append(data[held][2])
        groups.append(np.array([held] * len(s)))
        crops[held] = crop_scores(frames_of[held], model, args.crops, seed=len(held))
        y_h = data[held][1]
        print(
            f"{held}: AUC {roc_auc(s[y_h == 1], s[y_h == 0]):.3f} (n={len(s)}) load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    s, y, k, g = map(np.concatenate, (scores, labels, kinds, groups))
    negatives = s[y == 0]
    print(f"\nmodel {args.model}, per-kind {args.per_kind}, {time.perf_counter() - started:.0f} s")
    print("| held-out edits | ROC AUC | TPR at 1% FPR |\n|---|---|---|")
    for kind in ("all", "inject", "remove"):
        pos = s[y == 1] if kind == "all" else s[k == kind]
        tpr, _ = tpr_at_fpr(pos, negatives, 0.01)
        print(f"| {kind} | {roc_auc(pos, negatives):.3f} | {tpr:.3f} |")
    print("\nCrops (<=128 px, one edit each; score = largest window logit):")
    all_clean = np.concatenate([crops[g][0] for g in crops])
    all_edited = np.concatenate([crops[g][1] for g in crops])
    tpr, threshold = tpr_at_fpr(all_edited, all_clean, 0.01)
    print(
        f"pooled: {len(all_clean)} untouched, {len(all_edited)} edited; ROC AUC {roc_auc(all_edited, all_clean):.3f}; "
        f"TPR at 1% FPR {tpr:.3f} (threshold {threshold:.4f})"
    )
    held_tp = held_fp = 0
    print("| held-out group | threshold (other groups) | TPR | FPR | crop AUC |\n|---|---|---|---|---|")
    for group in crops:
        others = np.concatenate([crops[o][0] for o in crops if o != group])
        _, t = tpr_at_fpr(all_edited, others, 0.01)
        c, e = np.array(crops[group][0]), np.array(crops[group][1])
        held_tp += int((e > t).sum())
        held_fp += int((c > t).sum())
        print(f"| {group} | {t:.4f} | {(e > t).mean():.2f} | {(c > t).mean():.2f} | {roc_auc(e, c):.3f} |")
    print(
        f"leave-one-group-out thresholds: TPR {held_tp / len(all_edited):.3f}, FPR {held_fp / len(all_clean):.3f}"
    )
    print("\n| held-out group | untouched: median | edited: median | AUC |\n|---|---|---|---|")
    for name in data:
        ss, yy = s[g == name], y[g == name]
        print(
            f"| {name} | {np.median(ss[yy == 0]):.3f} | {np.median(ss[yy == 1]):.3f} | "
            f"{roc_auc(ss[yy == 1], ss[yy == 0]):.3f} |"
        )


if __name__ == "__main__":
    main()
