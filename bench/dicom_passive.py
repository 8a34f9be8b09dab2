"""Measure the DICOM passive detectors on edits made here from the shared pydicom slices: noise
inconsistency (splicing and inpainting evidence) and copy-move, with leave-one-source-out thresholds.

    PYTHONPATH=platform:. .venv/bin/python bench/dicom_passive.py [--per-source 25] [--out FILE]

Each source image is judged at a threshold set (<=1% FPR) on the untouched crops of the other sources
only; the product's thresholds are set on every source's untouched crops. Negatives are random crops
(<=128x128) of untouched slices. Noise edits, one region of 16 to 40 px per crop, placed on tissue:

- splice: a region of another source image, rescaled to the destination's mean and standard deviation
  (so it does not stand out by brightness or contrast) and pasted with a 3 px feathered edge;
- inpaint: a region painted over by harmonic (diffusion) filling from its border, as a lesion removal
  that smooths the area;
- inpaint+noise: the same, with Gaussian noise added at the level estimated from the rest of the crop
  (a noise-matched removal in the CT-GAN manner): the hard case for this detector.

Copy-move edits are bench/dicom_copy_move.py's (a textured square copied >= 20 px away, half re-noised).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import convolve, distance_transform_edt

from bench.dicom_copy_move import DEV, DICOM, TEST, auc, crops, tpr_at_fpr
from bench.dicom_copy_move import dataset as copy_move_dataset
from detection.engine.dicom import read_instance
from detection.engine.dicom.copy_move import scaled
from detection.engine.dicom.noise import KERNEL, noise_inconsistency

KINDS = ("splice", "inpaint", "inpaint+noise")


def grey_frame(name: str) -> np.ndarray:
    frame = read_instance((DICOM / name).read_bytes()).frames[0].astype(np.float64)
    return frame.mean(axis=2) if frame.ndim == 3 else frame


def _place(crop: np.ndarray, rng: np.random.Generator, size: int) -> tuple[int, int] | None:
    grey = scaled(crop)
    for _ in range(100):
        y = int(rng.integers(0, crop.shape[0] - size + 1))
        x = int(rng.integers(0, crop.shape[1] - size + 1))
        if grey[y : y + size, x : x + size].mean() > 0.15:
            return y, x
    return None


def _feather(size: int, width: int = 3) -> np.ndarray:
    inside = np.zeros((size + 2, size + 2), dtype=bool)
    inside[1:-1, 1:-1] = True
    return np.clip(distance_transform_edt(inside)[1:-1, 1:-1] / width, 0.0, 1.0)


def _harmonic(region: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Fill the interior of `region` from its one-pixel border by Jacobi iterations of Laplace's equation."""
    filled = region.copy()
    border = np.ones_like(region, dtype=bool)
    border[1:-1, 1:-1] = False
    filled[~border] = region[border].mean()
    for _ in range(iterations):
        smooth = (
            np.roll(filled, 1, 0) + np.roll(filled, -1, 0) + np.roll(filled, 1, 1) + np.roll(filled, -1, 1)
        ) / 4
        filled = np.where(border, region, smooth)
    return filled


def _noise_level(crop: np.ndarray) -> float:
    residual = np.abs(convolve(crop, KERNEL, mode="reflect"))
    return float(np.median(residual) / 0.6745)


def edit(
    crop: np.ndarray, kind: str, rng: np.random.Generator, donors: list[np.ndarray]
) -> np.ndarray | None:
    size = int(rng.integers(16, min(41, crop.shape[0] // 2 + 1)))
    where = _place(crop, rng, size)
    if where is None:
        return None
    y, x = where
    target = crop[y : y + size, x : x + size]
    edited = crop.copy()
    if kind == "splice":
        donor = donors[int(rng.integers(0, len(donors)))]
        if min(donor.shape) < size:
            return None
        for _ in range(50):
            dy = int(rng.integers(0, donor.shape[0] - size + 1))
            dx = int(rng.integers(0, donor.shape[1] - size + 1))
            piece = donor[dy : dy + size, dx : dx + size]
            if piece.std() > 0 and scaled(donor)[dy : dy + size, dx : dx + size].mean() > 0.15:
                break
        else:
            return None
        piece = (piece - piece.mean()) / piece.std() * max(target.std(), 1e-6) + target.mean()
        alpha = _feather(size)
        edited[y : y + size, x : x + size] = alpha * piece + (1 - alpha) * target
    else:
        margin = 1
        y0, x0 = max(y - margin, 0), max(x - margin, 0)
        y1, x1 = min(y + size + margin, crop.shape[0]), min(x + size + margin, crop.shape[1])
        filled = _harmonic(crop[y0:y1, x0:x1])
        if kind == "inpaint+noise":
            filled = filled + rng.normal(0, _noise_level(crop), filled.shape)
            filled[0, :], filled[-1, :], filled[:, 0], filled[:, -1] = (
                crop[y0, x0:x1],
                crop[y1 - 1, x0:x1],
                crop[y0:y1, x0],
                crop[y0:y1, x1 - 1],
            )
        edited[y0:y1, x0:x1] = filled
    return np.round(edited) if np.allclose(crop, np.round(crop)) else edited


def dataset(
    names: list[str], per_source: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Scores, labels (0 untouched, 1 edited), edit kinds ('' for untouched), sources, seconds."""
    frames = {name: grey_frame(name) for name in names}
    scores: list[float] = []
    labels: list[int] = []
    kinds: list[str] = []
    sources: list[str] = []
    seconds: list[float] = []
    for number, name in enumerate(names):
        frame = frames[name]
        donors = [f for other, f in frames.items() if other != name]
        rng = np.random.default_rng(2000 + number)
        size = min(128, frame.shape[0], frame.shape[1])
        items: list[tuple[int, str, np.ndarray]] = [(0, "", c) for c in crops(frame, rng, per_source, size)]
        for kind in KINDS:
            made = 0
            for crop in crops(frame, rng, per_source * 3, size):
                edited = edit(crop, kind, rng, donors)
                if edited is not None:
                    items.append((1, kind, edited))
                    made += 1
                if made == per_source:
                    break
        for label, kind, item in items:
            started = time.perf_counter()
            scores.append(noise_inconsistency(item).score)
            seconds.append(time.perf_counter() - started)
            labels.append(label)
            kinds.append(kind)
            sources.append(name)
    return np.array(scores), np.array(labels), np.array(kinds), np.array(sources), seconds


def loso(scores: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, float]:
    """Leave-one-source-out decisions: each source judged at the threshold set (<=1% FPR) on the
    negatives of the other sources only; and the threshold set on every source's negatives."""
    decided = np.zeros(scores.shape, dtype=bool)
    for name in np.unique(sources):
        held = sources == name
        _, threshold = tpr_at_fpr(scores[~held], labels[~held], 0.01)
        decided[held] = scores[held] > threshold
    return decided, tpr_at_fpr(scores, labels, 0.01)[1]


def report(
    title: str, scores: np.ndarray, labels: np.ndarray, kinds: np.ndarray, sources: np.ndarray
) -> list[str]:
    decided, threshold = loso(scores, labels, sources)
    tpr, roc_threshold = tpr_at_fpr(scores, labels, 0.01)
    lines = [
        f"#### {title}",
        "",
        f"Crops: {int((labels == 0).sum())} untouched, "
        + ", ".join(f"{int((kinds == k).sum())} {k}" for k in np.unique(kinds[labels == 1])),
        "",
        "| edits | ROC AUC (pooled) | TPR at 1% FPR (pooled ROC) | leave-one-source-out: TPR | FPR |",
        "|---|---|---|---|---|",
        f"| all | {auc(scores, labels):.3f} | {tpr:.3f} | {decided[labels == 1].mean():.3f} | "
        f"{decided[labels == 0].mean():.3f} |",
    ]
    kind_names = np.unique(kinds[labels == 1])
    if kind_names.size > 1:
        for kind in kind_names:
            mask = (kinds == kind) | (labels == 0)
            k_tpr, _ = tpr_at_fpr(scores[mask], labels[mask], 0.01)
            lines.append(
                f"| {kind} | {auc(scores[mask], labels[mask]):.3f} | {k_tpr:.3f} | "
                f"{decided[kinds == kind].mean():.3f} | — |"
            )
    lines += [
        "",
        f"Product threshold (<=1% FPR on every source's untouched crops): score > {threshold:.2f}.",
        "",
        "| source | untouched: median | edited: median | AUC | held out: TPR | FPR |",
        "|---|---|---|---|---|---|",
    ]
    for name in SOURCES:
        mask = sources == name
        s, lab, d = scores[mask], labels[mask], decided[mask]
        if (lab == 1).any() and (lab == 0).any():
            lines.append(
                f"| {name} | {np.median(s[lab == 0]):.2f} | {np.median(s[lab == 1]):.2f} | {auc(s, lab):.3f} "
                f"| {d[lab == 1].mean():.2f} | {d[lab == 0].mean():.2f} |"
            )
    return lines + [""]


SOURCES = DEV + TEST


def study_time() -> str:
    """Time to examine (every passive method on every slice) a zip of every shared .dcm file."""
    import io
    import zipfile

    from detection.engine.dicom import read_upload, slice_order
    from detection.engine.dicom.passive import examine

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(DICOM.glob("*.dcm")):
            archive.write(path, path.name)
    started = time.perf_counter()
    upload = read_upload(buffer.getvalue())
    frames = [f for i in slice_order(upload.instances) if not i.refused for f in i.frames]
    result = examine(frames)
    seconds = time.perf_counter() - started
    return (
        f"Examination of a zip of every shared .dcm file ({len(upload.accepted)} accepted instances, "
        f"{len(frames)} slices, 10x10 to 1024x256 px): {seconds:.1f} s, {seconds / len(frames):.2f} s per "
        f"slice on average; {len(result.suspect)} slice(s) flagged (these files are untouched, so every "
        "flag is a false positive)."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-source", type=int, default=25)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--study", action="store_true", help="only time the examination of a zip of every shared file"
    )
    args = parser.parse_args()
    if args.study:
        print(study_time())
        return
    lines = [
        "Command: `PYTHONPATH=platform:. .venv/bin/python bench/dicom_passive.py "
        f"--per-source {args.per_source}`",
        "",
        f"Sources ({len(SOURCES)} images): {', '.join(SOURCES)}. Each source is judged at a threshold set "
        "on the other sources' untouched crops only (leave one source out), so no source sets its own "
        "threshold; the TPR and FPR in the 'leave-one-source-out' columns are those held-out decisions, "
        "pooled. Splice donors come from the other sources.",
        "",
    ]
    scores, labels, kinds, sources, seconds = dataset(SOURCES, args.per_source)
    lines += report("Noise inconsistency (splicing and inpainting)", scores, labels, kinds, sources)
    lines.append(f"Time per crop (<=128x128): median {np.median(seconds) * 1000:.1f} ms")
    lines.append("")
    cm_scores, cm_labels, _, cm_sources = (np.array(v) for v in copy_move_dataset(SOURCES, args.per_source))
    cm_kinds = np.where(cm_labels == 1, "copy-move", "")
    lines += report("Copy-move within a slice", cm_scores, cm_labels, cm_kinds, cm_sources)
    lines += ["| source | size | noise s (full slice) |", "|---|---|---|"]
    for name in SOURCES:
        frame = read_instance((DICOM / name).read_bytes()).frames[0]
        started = time.perf_counter()
        noise_inconsistency(frame)
        lines.append(f"| {name} | {'x'.join(map(str, frame.shape))} | {time.perf_counter() - started:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
