"""Train the synthetic-speech model on real speech and speech made here, on CPU, reproducibly.

    PYTHONPATH=platform .venv/bin/python -m detection.engine.train_synthetic_speech \\
        --out detection/engine/weights/synthetic_speech.pt

Real speech: LibriSpeech speakers `TRAIN_SPEAKERS` (`../shared/media/speech/librispeech`) and the
GRID clips' sound (`../shared/media/talking/grid`). Synthetic speech (`speech_generators`): the
product's espeak-ng voices (`TRAINING_VOICES`, the first `TRAINING_SENTENCES` sentences),
Griffin-Lim mel inversion, phase-vocoder pitch shifts and a harmonic (sinusoidal) vocoder of the
training speakers.

Held out, never trained on: speaker `VALIDATION_SPEAKER` (calibration and threshold only) and
`TEST_SPEAKERS`, the remaining sentences, the Klatt espeak voices, McAdams anonymisation and
the LPC vocoder (`test_corpus`, used by `bench/detection_accuracy.py`).

Generated audio is cached under `var/cache/detection/` (delete it to regenerate).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from detection.engine import speech_generators as generate
from detection.engine.media import AUDIO_RATE, read_audio
from detection.engine.synthetic_speech import BANDS, CHUNK_FRAMES, spectral_features

REPO = Path(__file__).resolve().parents[2]
SHARED_MEDIA = REPO.parent / "shared" / "media"
CACHE = REPO / "var" / "cache" / "detection"
SPEAKERS = ("1688", "1998", "2033", "2414", "2609", "3005", "3080", "3331", "367", "533")
TEST_SPEAKERS = ("367", "2414", "3080")
VALIDATION_SPEAKER = "3331"
TRAIN_SPEAKERS = tuple(s for s in SPEAKERS if s not in TEST_SPEAKERS and s != VALIDATION_SPEAKER)
#: Transformations use at most this much of each recording (keeps generation to minutes).
TRANSFORM_SECONDS = 6.0
#: Kinds of synthetic speech never used in training.
HELD_OUT_KINDS = ("tts_klatt", "mcadams", "lpc_vocoder")


@dataclass(frozen=True)
class Recording:
    """One recording of the corpus: its name, kind ("real" or how it was made) and samples (16 kHz)."""

    name: str
    kind: str
    samples: NDArray[np.float32]

    @property
    def synthetic(self) -> bool:
        """True for anything not recorded from a person."""
        return self.kind != "real"


def _librispeech(media: Path, speakers: Sequence[str]) -> list[Recording]:
    found = []
    for speaker in speakers:
        for path in sorted((media / "speech" / "librispeech" / speaker).glob("*.flac")):
            samples = read_audio(path)
            if samples is not None:
                found.append(Recording(path.stem, "real", samples))
    return found


def _clip_sound(paths: Sequence[Path]) -> list[Recording]:
    found = []
    for path in paths:
        samples = read_audio(path)
        if samples is not None:
            found.append(Recording(path.name, "real", samples))
    return found


def _head(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    return samples[: int(TRANSFORM_SECONDS * AUDIO_RATE)]


def _griffin_lim(real: Sequence[Recording]) -> list[Recording]:
    return [Recording(f"{r.name}-gl", "griffin_lim", generate.griffin_lim(_head(r.samples))) for r in real]


def _pitch_shift(real: Sequence[Recording]) -> list[Recording]:
    made = []
    for index, recording in enumerate(real):
        semitones = (-4, -3, -2, 2, 3, 4)[index % 6]
        made.append(
            Recording(
                f"{recording.name}-ps{semitones}",
                "pitch_shift",
                generate.pitch_shift(_head(recording.samples), semitones),
            )
        )
    return made


def _harmonic_vocoder(real: Sequence[Recording]) -> list[Recording]:
    return [
        Recording(f"{r.name}-hv", "harmonic_vocoder", generate.harmonic_vocoder(_head(r.samples)))
        for r in real
    ]


def _tts(sentences: Sequence[str], voices: Sequence[str], kind: str, *, per_sentence: int) -> list[Recording]:
    made = []
    rates = (140, 160, 180)
    for index, sentence in enumerate(sentences):
        for k in range(per_sentence):
            voice = voices[(index * per_sentence + k) % len(voices)]
            rate = rates[(index + k) % len(rates)]
            made.append(
                Recording(
                    f"tts-{index}-{voice}-{rate}", kind, generate.tts(sentence, voice, words_per_minute=rate)
                )
            )
    return made


def _save(path: Path, recordings: list[Recording]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        names=np.array([r.name for r in recordings]),
        kinds=np.array([r.kind for r in recordings]),
        lengths=np.array([len(r.samples) for r in recordings]),
        samples=np.concatenate([r.samples for r in recordings]).astype(np.float32),
    )


def _load(path: Path) -> list[Recording]:
    with np.load(path) as data:
        bounds = np.concatenate([[0], np.cumsum(data["lengths"])])
        samples = data["samples"]
        return [
            Recording(str(name), str(kind), samples[bounds[i] : bounds[i + 1]].copy())
            for i, (name, kind) in enumerate(zip(data["names"], data["kinds"], strict=True))
        ]


def _cached(name: str, make: Callable[[], list[Recording]]) -> list[Recording]:
    path = CACHE / f"speech_{name}.npz"
    if path.is_file():
        return _load(path)
    recordings = make()
    _save(path, recordings)
    return recordings


def training_corpus(media: Path = SHARED_MEDIA) -> tuple[list[Recording], list[Recording]]:
    """(training, validation) recordings, generated once per kind and cached."""
    grid = sorted((media / "talking" / "grid").glob("*.mpg"))
    speakers = _cached("train_real", lambda: _librispeech(media, TRAIN_SPEAKERS))
    real = speakers + _cached("train_grid", lambda: _clip_sound(grid))
    transforms: dict[str, Callable[[Sequence[Recording]], list[Recording]]] = {
        "griffin_lim": _griffin_lim,
        "pitch_shift": _pitch_shift,
        "harmonic_vocoder": _harmonic_vocoder,
    }
    made: list[Recording] = []
    for kind, transform in transforms.items():
        made += _cached(f"train_{kind}", partial(transform, speakers))
    made += _cached(
        "train_tts",
        lambda: _tts(
            generate.SENTENCES[: generate.TRAINING_SENTENCES], generate.TRAINING_VOICES, "tts", per_sentence=2
        ),
    )

    def validation() -> list[Recording]:
        held = _librispeech(media, (VALIDATION_SPEAKER,))
        voices = generate.TRAINING_VOICES[::-1]
        return (
            held
            + _griffin_lim(held)
            + _pitch_shift(held)
            + _harmonic_vocoder(held)
            + _tts(generate.SENTENCES[:8], voices, "tts", per_sentence=1)
        )

    return real + made, _cached("validation", validation)


def test_corpus(media: Path = SHARED_MEDIA) -> list[Recording]:
    """Held-out speakers and recordings, held-out generation kinds and in-domain kinds on new speech."""
    real = _cached("test_real", lambda: _librispeech(media, TEST_SPEAKERS))
    other = _cached("test_other", lambda: _clip_sound(sorted((media / "talking" / "retalking").glob("*.*"))))

    def mcadams() -> list[Recording]:
        alphas = (0.75, 0.8, 0.85, 0.9)
        return [
            Recording(
                f"{r.name}-mcadams{alphas[i % 4]}",
                "mcadams",
                generate.mcadams(_head(r.samples), alphas[i % 4]),
            )
            for i, r in enumerate(real)
        ]

    def lpc() -> list[Recording]:
        rng = np.random.default_rng(8)
        return [
            Recording(f"{r.name}-lpc", "lpc_vocoder", generate.lpc_vocoder(_head(r.samples), rng))
            for r in real
        ]

    sentences = generate.SENTENCES[generate.TRAINING_SENTENCES :]
    made: list[Recording] = []
    for kind, make in (
        ("mcadams", mcadams),
        ("lpc_vocoder", lpc),
        ("griffin_lim", lambda: _griffin_lim(real)),
        ("pitch_shift", lambda: _pitch_shift(real)),
        ("harmonic_vocoder", lambda: _harmonic_vocoder(real)),
        ("tts_klatt", lambda: _tts(sentences, generate.TEST_VOICES, "tts_klatt", per_sentence=2)),
        ("tts", lambda: _tts(sentences, generate.TRAINING_VOICES, "tts", per_sentence=1)),
    ):
        made += _cached(f"test_{kind}", make)
    return real + other + made


def _augmented(recording: Recording, rng: np.random.Generator) -> NDArray[np.float32]:
    """A second version of a training recording: background noise, or a narrower channel."""
    from scipy.signal import butter, sosfilt

    samples = recording.samples.astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) or 1e-3
    if rng.random() < 0.5:
        noise = rng.normal(0, 1, len(samples))
        if rng.random() < 0.5:  # pink-ish: integrated white noise, high-passed
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        noise *= rms / (float(np.sqrt(np.mean(noise**2))) or 1.0) * 10 ** (-rng.uniform(15, 35) / 20)
        return np.asarray(samples + noise, dtype=np.float32)
    cutoff = rng.uniform(3400, 7000)
    sos = butter(6, cutoff, btype="low", fs=AUDIO_RATE, output="sos")
    return np.asarray(sosfilt(sos, samples), dtype=np.float32)


def _features(recordings: Sequence[Recording], rng: np.random.Generator | None) -> list[NDArray[np.float32]]:
    out = []
    for recording in recordings:
        out.append(spectral_features(recording.samples))
        if rng is not None:
            out.append(spectral_features(_augmented(recording, rng)))
    return out


def _window(features: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    if features.shape[1] < CHUNK_FRAMES:
        features = np.tile(features, (1, -(-CHUNK_FRAMES // features.shape[1])))
    start = int(rng.integers(features.shape[1] - CHUNK_FRAMES + 1))
    window = features[:, start : start + CHUNK_FRAMES].copy()
    # SpecAugment-style masks: no single band or moment should decide.
    if rng.random() < 0.5:
        width = int(rng.integers(1, 9))
        first = int(rng.integers(BANDS - width))
        window[first : first + width] = 0.0
    if rng.random() < 0.5:
        width = int(rng.integers(1, 21))
        first = int(rng.integers(CHUNK_FRAMES - width))
        window[:, first : first + width] = 0.0
    return window


def train(*, media: Path, out: Path, steps: int, batch: int, seed: int, threads: int) -> dict[str, float]:
    """Train, calibrate on the validation speaker, save weights + calibration + threshold."""
    import torch
    import torch.nn.functional as functional

    from detection.engine.metrics import roc_auc
    from detection.engine.nets import SpeechSpoofNet
    from detection.engine.train_manipulation import fit_platt

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    training, validation = training_corpus(media)
    real = _features([r for r in training if not r.synthetic], rng)
    kinds = sorted({r.kind for r in training if r.synthetic})
    fake = {kind: _features([r for r in training if r.kind == kind], rng) for kind in kinds}
    print(
        f"training: {len(real) // 2} real, "
        + ", ".join(f"{len(v) // 2} {k}" for k, v in fake.items())
        + f"; features in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    net = SpeechSpoofNet(BANDS)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=steps, pct_start=0.1)
    net.train()
    running = 0.0
    half = batch // 2
    for step in range(1, steps + 1):
        windows = [_window(real[int(rng.integers(len(real)))], rng) for _ in range(half)]
        for _ in range(half):
            pool = fake[kinds[int(rng.integers(len(kinds)))]]
            windows.append(_window(pool[int(rng.integers(len(pool)))], rng))
        labels = torch.cat([torch.zeros(half), torch.ones(half)])
        logits, _ = net(torch.from_numpy(np.stack(windows)[:, None]))
        loss = functional.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 100 == 0:
            print(f"step {step}/{steps} loss {running:.3f} {time.monotonic() - started:.0f} s", flush=True)

    from detection.engine.synthetic_speech import chunks

    net.eval()
    logits_list, labels_list = [], []
    with torch.inference_mode():
        for recording in validation:
            window_logits, _ = net(torch.from_numpy(chunks(spectral_features(recording.samples))))
            logits_list.append(float(window_logits.mean()))
            labels_list.append(float(recording.synthetic))
    logit_array, label_array = np.array(logits_list), np.array(labels_list)
    scale, bias = fit_platt(logit_array, label_array)
    calibrated = 1 / (1 + np.exp(-(scale * logit_array + bias)))
    threshold = max(0.5, float(np.quantile(calibrated[label_array == 0], 0.99)))
    metrics = {
        "validation_auc": roc_auc(calibrated[label_array == 1], calibrated[label_array == 0]),
        "threshold": threshold,
        "calibration_scale": scale,
        "calibration_bias": bias,
        "seconds": time.monotonic() - started,
    }
    meta = {
        "training_command": f"python -m detection.engine.train_synthetic_speech --out {out} --steps {steps} "
        f"--batch {batch} --seed {seed}",
        "training_speakers": ",".join(TRAIN_SPEAKERS),
        "validation_speaker": VALIDATION_SPEAKER,
        "training_kinds": ",".join(kinds),
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
        prog="python -m detection.engine.train_synthetic_speech", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--media", type=Path, default=SHARED_MEDIA)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "weights" / "synthetic_speech.pt"
    )
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args(argv)
    train(
        media=arguments.media,
        out=arguments.out,
        steps=arguments.steps,
        batch=arguments.batch,
        seed=arguments.seed,
        threads=arguments.threads,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
