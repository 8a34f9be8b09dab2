"""Train and measure the injected/removed-lesion classifier on edits made here from real shared slices.

    PYTHONPATH=platform:. .venv/bin/python -m detection.engine.dicom.train_lesions \
        --out var/dicom_lesions.pt [--report FILE]

The weights are not shipped: on unseen sources the classifier does not transfer (BENCHMARKS.md).

Sources are kept apart: windows of the TRAIN slices train the net, the VALIDATION slice only sets the
operating threshold (<=1% FPR on its untouched windows), and the TEST slices, never seen in training or
threshold setting, give the reported AUC and TPR. Every window (32 px, on tissue) is either untouched,
or has a lesion injected or removed by `lesions.lesion_inject` / `lesion_remove` (CT-GAN manner: blended,
noise-matched). Training windows have their own noise character varied first (`randomized`), so the
net cannot learn one source's noise. Seeded; one torch thread; a few minutes of CPU.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter

from detection.engine.dicom.lesions import (
    PATCH,
    grey_scaled,
    lesion_inject,
    lesion_net,
    lesion_remove,
    noise_level,
    normalized,
    window_probabilities,
)
from detection.engine.dicom.reader import read_instance
from detection.engine.metrics import roc_auc, tpr_at_fpr

if TYPE_CHECKING:
    import torch

DICOM = Path(__file__).resolve().parents[4] / "shared" / "media" / "medical" / "dicom"
TRAIN = ("CT_small.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm", "examples_jpeg2k.dcm", "image_dfl.dcm")
VALIDATION = ("examples_overlay.dcm",)
TEST = ("MR_small.dcm", "JPEG2000.dcm", "examples_palette.dcm", "examples_ybr_color.dcm")


def randomized(window: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """The window's own noise character varied before any edit (a slight blur, added white noise, or
    both): slices from other scanners and encoders differ in exactly this, so the net must learn a
    local inconsistency rather than what one source's noise looks like."""
    if rng.random() < 0.5:
        window = gaussian_filter(window, float(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        window = window + rng.normal(
            0, float(rng.uniform(0.2, 2.0)) * max(noise_level(window), 1e-3), window.shape
        )
    return window


Edit = Callable[[npt.NDArray[np.float64], np.random.Generator], npt.NDArray[np.float64]]


def _windows(
    grey: npt.NDArray[np.float64], rng: np.random.Generator, count: int
) -> list[npt.NDArray[np.float64]]:
    """Random windows on tissue (not flat background)."""
    rows, cols = grey.shape
    found: list[npt.NDArray[np.float64]] = []
    for _ in range(count * 50):
        y, x = int(rng.integers(0, rows - PATCH + 1)), int(rng.integers(0, cols - PATCH + 1))
        window = grey[y : y + PATCH, x : x + PATCH]
        if window.mean() > 0.1 and window.std() > 0.01:
            found.append(window.copy())
            if len(found) == count:
                break
    return found


def dataset(
    names: tuple[str, ...], per_kind: int, seed: int, randomize: bool = False
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    """Windows, labels (0 untouched, 1 edited), kinds ("", "inject", "remove") and sources."""
    windows: list[npt.NDArray[np.float64]] = []
    labels: list[int] = []
    kinds: list[str] = []
    sources: list[str] = []
    edits: tuple[tuple[str, Edit | None], ...] = (
        ("", None),
        ("inject", lesion_inject),
        ("remove", lesion_remove),
    )
    for number, name in enumerate(names):
        grey = grey_scaled(read_instance((DICOM / name).read_bytes()).frames[0])
        rng = np.random.default_rng(seed + number)
        for kind, edit in edits:
            count = per_kind * 2 if edit is None else per_kind
            for window in _windows(grey, rng, count):
                if randomize:
                    window = randomized(window, rng)
                windows.append(window if edit is None else edit(window, rng))
                labels.append(0 if edit is None else 1)
                kinds.append(kind)
                sources.append(name)
    return np.stack(windows), np.array(labels), np.array(kinds), np.array(sources)


def train(windows: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], epochs: int) -> torch.nn.Module:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = lesion_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    inputs = torch.from_numpy(normalized(windows))
    targets = torch.from_numpy(labels.astype(np.float32))
    generator = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(order), 128):
            batch = order[start : start + 128]
            x = inputs[batch]
            # Flips and quarter turns: a lesion has no preferred orientation.
            if epoch % 2:
                x = torch.flip(x, dims=[3])
            x = torch.rot90(x, k=int(start // 128) % 4, dims=[2, 3])
            optimizer.zero_grad()
            loss = loss_fn(net(x)[:, 0], targets[batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}", flush=True)
    net.eval()
    return net


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--per-kind", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    started = time.perf_counter()
    x_train, y_train, _, _ = dataset(TRAIN, args.per_kind, 100, randomize=True)
    x_val, y_val, _, _ = dataset(VALIDATION, args.per_kind, 200)
    x_test, y_test, k_test, s_test = dataset(TEST, args.per_kind // 3, 300)
    net = train(x_train, y_train, args.epochs)
    trained = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out)
    val = window_probabilities(x_val, net)
    _, threshold = tpr_at_fpr(val[y_val == 1], val[y_val == 0], 0.01)
    test = window_probabilities(x_test, net)
    negatives = test[y_test == 0]
    lines = [
        "Command: `PYTHONPATH=platform:. .venv/bin/python -m detection.engine.dicom.train_lesions "
        f"--out var/dicom_lesions.pt --per-kind {args.per_kind} --epochs {args.epochs}`",
        "",
        f"- Train sources: {', '.join(TRAIN)} ({int((y_train == 0).sum())} untouched, "
        f"{int((y_train == 1).sum())} edited 32 px windows); training took {trained:.0f} s",
        f"- Threshold source: {', '.join(VALIDATION)}: probability > {threshold:.3f} (<=1% FPR on its "
        f"{int((y_val == 0).sum())} untouched windows)",
        f"- Test sources (unseen): {', '.join(TEST)}: {int((y_test == 0).sum())} untouched, "
        f"{int((k_test == 'inject').sum())} injected, {int((k_test == 'remove').sum())} removed windows",
        f"- At the threshold on test: FPR {(negatives > threshold).mean():.3f}",
        f"- Weights: {args.out.stat().st_size / 1024:.0f} KiB",
        "",
        "| test edits | ROC AUC | TPR at 1% FPR (test ROC) | TPR at the threshold |",
        "|---|---|---|---|",
    ]
    for kind in ("all", "inject", "remove"):
        positives = test[y_test == 1] if kind == "all" else test[k_test == kind]
        tpr, _ = tpr_at_fpr(positives, negatives, 0.01)
        lines.append(
            f"| {kind} | {roc_auc(positives, negatives):.3f} | {tpr:.3f} | {(positives > threshold).mean():.3f} |"
        )
    lines += ["", "| test source | untouched: median p | edited: median p | AUC |", "|---|---|---|---|"]
    for name in TEST:
        s, y = test[s_test == name], y_test[s_test == name]
        lines.append(
            f"| {name} | {np.median(s[y == 0]):.3f} | {np.median(s[y == 1]):.3f} | "
            f"{roc_auc(s[y == 1], s[y == 0]):.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"threshold {threshold}")
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
