"""Synthetic speech: is the voice in this recording made or transformed by a machine?

Features: a 64-band linear-frequency log filterbank (librosa STFT, 25 ms windows every 10 ms,
0-8 kHz), each band's mean over the recording removed (so the microphone and room count less
than the fine structure). Linear bands rather than mel ones: vocoders and TTS leave their traces
in the upper bands that the mel scale squeezes together.

Model: `SpeechSpoofNet` (see `nets.py`), trained here on CPU
(`python -m detection.engine.train_synthetic_speech`) on real LibriSpeech speakers and GRID clips
against the product's own espeak-ng voices, Griffin-Lim mel inversion and phase-vocoder pitch
shifts. It scores 2 s windows every second; the recording's score is the calibrated mean of its
windows' logits, and each window's calibrated score goes to the timeline.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine.errors import AnalyzerUnavailable
from detection.engine.media import AUDIO_RATE
from detection.engine.results import Analyzer, AnalyzerResult, Evidence, TimeRange, clamp01
from detection.engine.threads import inference_threads

WEIGHTS = Path(__file__).resolve().parent / "weights" / "synthetic_speech.pt"
BANDS = 64
N_FFT = 512
HOP = 160
WINDOW = 400
#: Model windows: 2 s, one every second.
CHUNK_FRAMES = 200
CHUNK_STEP = 100
#: Recordings are scaled to this RMS, then get a fixed, faint noise floor: synthetic speech has
#: exact digital silence between words, which would otherwise be too easy (and too fragile) a cue.
TARGET_RMS = 0.05
NOISE_FLOOR = 2e-4
MIN_SPEECH_SECONDS = 1.0


def _filterbank() -> NDArray[np.float32]:
    bins = N_FFT // 2 + 1
    edges = np.linspace(0, bins - 1, BANDS + 2)
    index = np.arange(bins, dtype=np.float64)
    bank = np.zeros((BANDS, bins), np.float32)
    for band in range(BANDS):
        left, centre, right = edges[band], edges[band + 1], edges[band + 2]
        rising = (index - left) / (centre - left)
        falling = (right - index) / (right - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0, None)
    return bank


_BANK = _filterbank()


def spectral_features(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """(BANDS, frames) log filterbank with per-band mean removed; 100 frames per second."""
    import librosa

    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    scaled = samples.astype(np.float32) * (TARGET_RMS / rms if rms > 1e-6 else 1.0)
    # Seeded by length so the same recording always gets the same floor.
    floor = np.random.default_rng(len(scaled)).normal(0.0, NOISE_FLOOR, len(scaled)).astype(np.float32)
    spectrum = np.abs(librosa.stft(scaled + floor, n_fft=N_FFT, hop_length=HOP, win_length=WINDOW)) ** 2
    logs = np.log(_BANK @ spectrum + 1e-10)
    return np.asarray(logs - logs.mean(axis=1, keepdims=True), dtype=np.float32)


def chunk_starts(frames: int) -> list[int]:
    """Start frames of the model's windows over a recording of `frames` frames."""
    if frames <= CHUNK_FRAMES:
        return [0]
    return list(range(0, frames - CHUNK_FRAMES + 1, CHUNK_STEP))


def chunks(features: NDArray[np.float32]) -> NDArray[np.float32]:
    """(windows, 1, BANDS, CHUNK_FRAMES): a short recording is repeated to fill one window."""
    if features.shape[1] < CHUNK_FRAMES:
        repeats = -(-CHUNK_FRAMES // max(features.shape[1], 1))
        features = np.tile(features, (1, repeats))
    starts = chunk_starts(features.shape[1])
    return np.stack([features[None, :, s : s + CHUNK_FRAMES] for s in starts]).astype(np.float32)


class SpoofModel:
    """The trained network with its calibration, loaded once per process."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        try:
            import torch

            from detection.engine.nets import SpeechSpoofNet
        except ImportError as exc:
            raise AnalyzerUnavailable(
                "The synthetic-speech model needs torch, which is not installed on this server.",
                code="torch_unavailable",
            ) from exc
        if not path.is_file():
            raise AnalyzerUnavailable(
                f"The synthetic-speech model's weights are missing ({path.name}); run "
                "`python -m detection.engine.train_synthetic_speech` to make them.",
                code="weights_missing",
            )
        bundle = torch.load(path, map_location="cpu", weights_only=True)
        self.net = SpeechSpoofNet(BANDS)
        self.net.load_state_dict({k: v.float() for k, v in bundle["state_dict"].items()})
        self.net.eval()
        self.scale = float(bundle["calibration"]["scale"])
        self.bias = float(bundle["calibration"]["bias"])
        self.threshold = float(bundle["threshold"])
        self.meta: dict[str, Any] = dict(bundle.get("meta", {}))
        self._torch = torch

    def calibrate(self, logit: float) -> float:
        """Calibrated probability for a logit."""
        return float(1.0 / (1.0 + np.exp(-(self.scale * logit + self.bias))))

    def window_logits(self, samples: NDArray[np.float32]) -> NDArray[np.float64]:
        """Logits of the 2 s windows of a 16 kHz recording."""
        windows = chunks(spectral_features(samples))
        parts = []
        with self._torch.inference_mode(), inference_threads():
            for first in range(0, len(windows), 64):  # bounded activations for long recordings
                logits, _ = self.net(self._torch.from_numpy(windows[first : first + 64]))
                parts.append(logits.numpy())
        return np.asarray(np.concatenate(parts), dtype=np.float64)

    def recording_score(self, samples: NDArray[np.float32]) -> tuple[float, NDArray[np.float64]]:
        """The recording's calibrated score and its windows' logits."""
        logits = self.window_logits(samples)
        return self.calibrate(float(logits.mean())), logits


_model: SpoofModel | None = None
_model_lock = threading.Lock()


def spoof_model() -> SpoofModel:
    """The process-wide model."""
    global _model
    with _model_lock:
        if _model is None:
            _model = SpoofModel()
        return _model


def synthetic_speech_result(samples: NDArray[np.float32] | None) -> AnalyzerResult:
    """Score a 16 kHz recording for synthetic or machine-transformed speech."""
    from detection.engine.accuracy import accuracy_of

    name = Analyzer.SYNTHETIC_SPEECH.value
    accuracy = accuracy_of(Analyzer.SYNTHETIC_SPEECH)
    model = spoof_model()
    if samples is None:
        return AnalyzerResult(
            name, 0.0, True, model.threshold, accuracy=accuracy, skipped="The file has no sound."
        )
    usable = len(samples) // WINDOW * WINDOW
    loud_windows = int(
        (
            np.sqrt(np.square(samples[:usable], dtype=np.float64).reshape(-1, WINDOW).mean(axis=1)) > 0.005
        ).sum()
    )
    if len(samples) < AUDIO_RATE * MIN_SPEECH_SECONDS or loud_windows * WINDOW < AUDIO_RATE * 0.5:
        return AnalyzerResult(
            name, 0.0, True, model.threshold, accuracy=accuracy, skipped="Too little speech to judge."
        )
    score, logits = model.recording_score(samples)
    starts = chunk_starts(int(len(samples) / HOP) + 1)
    timeline = tuple(
        ((s + CHUNK_FRAMES / 2) * HOP / AUDIO_RATE, model.calibrate(float(v)))
        for s, v in zip(starts, logits, strict=False)
    )
    evidence = tuple(
        Evidence(
            note=f"Speech at {t - 1:.1f}-{t + 1:.1f} s sounds machine-made (score {v:.2f}, threshold {model.threshold:.2f}).",
            time_range=TimeRange(max(0.0, t - 1), t + 1),
            score=v,
        )
        for t, v in sorted(timeline, key=lambda item: -item[1])[:3]
        if v >= model.threshold
    )
    return AnalyzerResult(
        name,
        clamp01(score),
        True,
        model.threshold,
        evidence=evidence,
        accuracy=accuracy,
        timeline=timeline,
        details={"windows": len(logits), "mean_logit": float(logits.mean())},
    )
