"""Train the face-forgery model from real faces only (self-blended fakes), on CPU, reproducibly.

    .venv/bin/python -m detection.engine.train_manipulation --out detection/engine/weights/manipulation.pt

Training data: real faces from `../shared/media/talking` (GRID and retalking clips, every second
frame) and `../shared/media/faces` (every face in every photo). `forgery/` is the evaluation set
and is never read here. Faces of `VALIDATION_SOURCES` (other people) are held out to fit the
score calibration and the decision threshold.

Seeded (numpy and torch); one torch thread plus one process making batches. With the default
steps it took 26 minutes on this shared two-core machine (load average about 9 from other work). The faces found are cached under `var/cache/detection/` (delete it to re-extract).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader, IterableDataset

from detection.engine.faces import face_crop
from detection.engine.nets import FACE_MAP, FaceForgeryNet
from detection.engine.sbi import RealFace, colour_jitter, frequency_jitter, self_blend

REPO = Path(__file__).resolve().parents[2]
SHARED_MEDIA = REPO.parent / "shared" / "media"
CACHE = REPO / "var" / "cache" / "detection" / "real_faces.npz"
#: Stored crops: this many face-box widths around the face, at this size (box about 86 px).
STORE_MARGIN = 2.6
STORE_SIZE = 224
#: Held-out people (whole clips) for calibration: two GRID speakers and one retalking clip.
VALIDATION_SOURCES = ("talking/grid/sbwe5n.mpg", "talking/grid/swiz3n.mpg", "talking/retalking/3.mp4")
FRAME_STEP = 2


@dataclass(frozen=True)
class FaceSet:
    """Real faces with the source file each came from."""

    faces: list[RealFace]
    sources: list[str]


def _store(rgb: NDArray[np.uint8], box: tuple[int, int, int, int], points: NDArray[np.float64]) -> RealFace:
    crop, (left, top, side) = face_crop(rgb, box, size=STORE_SIZE, margin=STORE_MARGIN)
    scale = STORE_SIZE / side
    local_points = (points - [left, top]) * scale
    local_box = (
        (box[0] - left) * scale,
        (box[1] - top) * scale,
        (box[2] - left) * scale,
        (box[3] - top) * scale,
    )
    return RealFace(crop, local_points, local_box)


def extract_real_faces(media: Path) -> FaceSet:
    """Find every real training face in the talking clips (every `FRAME_STEP`th frame) and photos."""
    from detection.engine.faces import detect
    from detection.engine.media import iter_frames, read_image

    faces: list[RealFace] = []
    sources: list[str] = []
    videos = sorted((media / "talking").glob("*/*.mpg")) + sorted((media / "talking").glob("*/*.mp4"))
    for video in videos:
        for frame in iter_frames(video):
            if frame.index % FRAME_STEP:
                continue
            rgb = frame.rgb()
            found = detect(rgb)
            if found:
                faces.append(_store(rgb, found[0].box, found[0].points))
                sources.append(str(video.relative_to(media)))
    photos = sorted(p for p in (media / "faces").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    for photo in photos:
        rgb = read_image(photo)
        for face in detect(rgb, thorough=True):
            faces.append(_store(rgb, face.box, face.points))
            sources.append(str(photo.relative_to(media)))
    return FaceSet(faces, sources)


def load_real_faces(media: Path, cache: Path = CACHE) -> FaceSet:
    """The extracted faces, from the cache when it exists."""
    if cache.is_file():
        with np.load(cache) as data:
            faces = [
                RealFace(image, points, tuple(float(v) for v in box))  # type: ignore[arg-type]
                for image, points, box in zip(data["images"], data["points"], data["boxes"], strict=True)
            ]
            return FaceSet(faces, [str(s) for s in data["sources"]])
    found = extract_real_faces(media)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        cache,
        images=np.stack([f.image for f in found.faces]),
        points=np.stack([f.points for f in found.faces]),
        boxes=np.array([f.box for f in found.faces]),
        sources=np.array(found.sources),
    )
    return found


def _degrade(image: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """What a file goes through after a face is pasted: resizing, blur, JPEG, noise."""
    import cv2

    out = image
    size = out.shape[0]
    if rng.random() < 0.5:
        small = max(24, int(size * rng.uniform(0.3, 0.9)))
        out = np.asarray(
            cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (size, size)),
            dtype=np.uint8,
        )
    if rng.random() < 0.1:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2)), dtype=np.uint8)
    if rng.random() < 0.7:
        quality = int(rng.uniform(35, 95))
        ok, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = np.ascontiguousarray(np.asarray(decoded, dtype=np.uint8)[..., ::-1])
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(1, 5), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return np.asarray(out, dtype=np.uint8)


def _tighten(
    image: NDArray[np.uint8], box: tuple[float, float, float, float], rng: np.random.Generator
) -> NDArray[np.uint8]:
    """Repeat the edge pixels outside a tight frame around the face (a crop someone else made)."""
    import cv2

    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = (box[2] - box[0]) * rng.uniform(0.6, 0.85)
    size = image.shape[0]
    left, top = max(0, int(cx - half)), max(0, int(cy - half))
    right, bottom = min(size, int(cx + half)), min(size, int(cy + half))
    inner = image[top:bottom, left:right]
    return np.asarray(
        cv2.copyMakeBorder(inner, top, size - bottom, left, size - right, cv2.BORDER_REPLICATE),
        dtype=np.uint8,
    )


def make_sample(
    face: RealFace, fake: bool, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """One training crop (CROP_SIZE, RGB) and its boundary target (16 x 16)."""
    import cv2

    if fake:
        image, mask = self_blend(face, rng)
    else:
        image, mask = face.image, np.zeros(face.image.shape[:2], np.float32)
        # Real faces get the same whole-picture colour and texture changes that one side of a
        # self-blend gets: otherwise "recoloured or resharpened all over" would itself mean fake,
        # and a real video from another camera would look forged.
        if rng.random() < 0.4:
            altered = colour_jitter(image.astype(np.float32), rng)
            if rng.random() < 0.7:
                altered = frequency_jitter(altered, rng)
            image = np.clip(altered, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        image = _tighten(image, face.box, rng)
    width = face.box[2] - face.box[0]
    shift = rng.uniform(-0.06, 0.06, 2) * width
    box = (
        int(face.box[0] + shift[0]),
        int(face.box[1] + shift[1]),
        int(face.box[2] + shift[0]),
        int(face.box[3] + shift[1]),
    )
    margin = rng.uniform(1.45, 2.0)
    crop, _ = face_crop(image, box, margin=margin)
    mask_crop, _ = face_crop((mask * 255).astype(np.uint8), box, margin=margin)
    crop = _degrade(crop, rng)
    if rng.random() < 0.5:
        crop, mask_crop = crop[:, ::-1], mask_crop[:, ::-1]
    soft = mask_crop.astype(np.float32) / 255.0
    boundary = np.asarray(
        cv2.resize(4 * soft * (1 - soft), (FACE_MAP, FACE_MAP), interpolation=cv2.INTER_AREA),
        dtype=np.float32,
    )
    peak = float(boundary.max())
    boundary = boundary / peak if peak > 0.05 else np.zeros_like(boundary)
    return np.ascontiguousarray(crop), np.asarray(boundary, dtype=np.float32)


def _batch(
    faces: Sequence[RealFace], pairs: int, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32]]:
    chosen = rng.integers(len(faces), size=pairs)
    crops, maps, labels = [], [], []
    # Each face appears once real and once self-blended: the difference is then only the blend.
    for index in chosen:
        for fake in (False, True):
            crop, boundary = make_sample(faces[int(index)], fake, rng)
            crops.append(crop)
            maps.append(boundary)
            labels.append(float(fake))
    return np.stack(crops), np.stack(maps), np.array(labels, np.float32)


class _Batches(IterableDataset[tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32]]]):
    """`steps` training batches from one seeded generator, made in a worker process.

    One worker, so the order (and the trained weights) depends only on the seed; making batches
    overlaps with the network's step instead of adding to it.
    """

    def __init__(self, faces: Sequence[RealFace], pairs: int, steps: int, seed: int) -> None:
        self.faces, self.pairs, self.steps, self.seed = faces, pairs, steps, seed

    def __iter__(self):  # type: ignore[no-untyped-def]
        import cv2

        cv2.setNumThreads(1)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.steps):
            yield _batch(self.faces, self.pairs, rng)


def fit_platt(logits: NDArray[np.float64], labels: NDArray[np.float64]) -> tuple[float, float]:
    """Platt scaling: logistic regression of the label on the logit (a little L2 keeps it finite
    when the classes barely overlap)."""
    from scipy.optimize import minimize

    def loss(params: NDArray[np.float64]) -> float:
        z = params[0] * logits + params[1]
        return float(np.mean(np.logaddexp(0.0, z) - labels * z) + 1e-3 * params[0] ** 2)

    fitted = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B")
    return float(fitted.x[0]), float(fitted.x[1])


def _validation_logits(
    net: FaceForgeryNet, batches: list[tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32]]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    logits: list[float] = []
    labels: list[float] = []
    net.eval()
    with torch.inference_mode():
        for crops, _, batch_labels in batches:
            values, _ = net(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0)
            logits.extend(values.tolist())
            labels.extend(batch_labels.tolist())
    net.train()
    return np.array(logits), np.array(labels)


def clean_threshold(net: FaceForgeryNet, faces: Sequence[RealFace], scale: float, bias: float) -> float:
    """The 99th percentile of held-out real faces' calibrated scores, cropped as a scan crops them.

    Real footage as it is (no training degradations) is what the threshold must let through:
    1 % of real faces of people the model never saw score above it.
    """
    crops = np.stack([face_crop(face.image, tuple(int(v) for v in face.box))[0] for face in faces])  # type: ignore[arg-type]
    net.eval()
    with torch.inference_mode():
        logits, _ = net(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0)
    calibrated = 1 / (1 + np.exp(-(scale * logits.numpy().astype(np.float64) + bias)))
    return float(np.quantile(calibrated, 0.99))


def train(
    *, media: Path, out: Path, steps: int, pairs: int, seed: int, threads: int, log_every: int = 150
) -> dict[str, float]:
    """Train, calibrate on held-out people, save weights + calibration + threshold; return metrics."""
    import cv2
    import torch.nn.functional as functional

    # OpenCV's thread pool must not exist when the batch worker is forked (a forked pool
    # deadlocks); one OpenCV thread per process is all a 128-pixel crop needs anyway.
    cv2.setNumThreads(1)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    started = time.monotonic()
    data = load_real_faces(media)
    held = [s in VALIDATION_SOURCES for s in data.sources]
    training = [f for f, h in zip(data.faces, held, strict=True) if not h]
    validation = [f for f, h in zip(data.faces, held, strict=True) if h]
    print(f"real faces: {len(training)} for training, {len(validation)} held out", flush=True)

    from detection.engine.metrics import roc_auc

    check = np.random.default_rng(seed + 1)
    held_out = [_batch(validation, 64, check) for _ in range(4)]
    net = FaceForgeryNet()
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    net.train()
    running = 0.0
    best_auc, best_step, best_state = -1.0, 0, {k: v.detach().clone() for k, v in net.state_dict().items()}
    batches = DataLoader(
        _Batches(training, pairs, steps, seed), batch_size=None, num_workers=1, prefetch_factor=4
    )
    for step, (crops, maps, labels) in enumerate(batches, start=1):
        images = crops.permute(0, 3, 1, 2).float() / 255.0
        logits, boundary = net(images)
        loss = functional.binary_cross_entropy_with_logits(logits, labels)
        loss = loss + 0.5 * functional.binary_cross_entropy_with_logits(boundary, maps)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % log_every == 0:
            logit_array, label_array = _validation_logits(net, held_out)
            auc = roc_auc(logit_array[label_array == 1], logit_array[label_array == 0])
            print(
                f"step {step}/{steps} loss {running:.3f} held-out AUC {auc:.3f} {time.monotonic() - started:.0f} s",
                flush=True,
            )
            # Keep the checkpoint that separates held-out people's real and self-blended faces
            # best: with few identities the network starts memorising the training faces.
            if auc > best_auc:
                best_auc, best_step = auc, step
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    net.load_state_dict(best_state)
    logit_array, label_array = _validation_logits(net, held_out)
    net.eval()
    scale, bias = fit_platt(logit_array, label_array)
    threshold = clean_threshold(net, validation, scale, bias)
    metrics = {
        "best_step": float(best_step),
        "validation_auc_real_vs_self_blended": roc_auc(
            logit_array[label_array == 1], logit_array[label_array == 0]
        ),
        "threshold": threshold,
        "calibration_scale": scale,
        "calibration_bias": bias,
        "seconds": time.monotonic() - started,
    }
    meta = {
        "training_command": f"python -m detection.engine.train_manipulation --out {out} --steps {steps} "
        f"--pairs {pairs} --seed {seed}",
        "training_faces": len(training),
        "validation_faces": len(validation),
        "validation_sources": ",".join(VALIDATION_SOURCES),
        **{k: float(v) for k, v in metrics.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()},
            "calibration": {"scale": scale, "bias": bias},
            "threshold": threshold,
            "meta": meta,
        },
        out,
    )
    print(json.dumps(meta, indent=2), flush=True)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m detection.engine.train_manipulation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--media", type=Path, default=SHARED_MEDIA, help="the shared media folder")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "weights" / "manipulation.pt"
    )
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--pairs", type=int, default=16, help="real + self-blended pairs per batch")
    parser.add_argument("--seed", type=int, default=11)
    # One thread: on a shared two-core machine, two torch threads wait on each other (4x slower
    # measured under load); the batch-making worker process uses the other core.
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args(argv)
    train(
        media=arguments.media,
        out=arguments.out,
        steps=arguments.steps,
        pairs=arguments.pairs,
        seed=arguments.seed,
        threads=arguments.threads,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
