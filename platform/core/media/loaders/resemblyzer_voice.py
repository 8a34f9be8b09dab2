"""resemblyzer's speaker encoder, loaded once per process, with the audio preparation it expects."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.media.decode import AUDIO_RATE
from core.media.errors import MediaError

#: resemblyzer works on 16 kHz audio.
VOICE_SAMPLE_RATE = 16_000
#: Sound whose RMS stays below this (about -70 dBFS) is treated as silent: resemblyzer would
#: otherwise raise the volume of hiss to speech level before its voice-activity detector.
SILENCE_RMS = 3e-4


def is_silent(samples: NDArray[np.float32]) -> bool:
    """Whether `samples` is empty or quieter than `SILENCE_RMS`."""
    return len(samples) == 0 or float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < SILENCE_RMS


class VoiceEncoder:
    """resemblyzer's `VoiceEncoder` on the CPU (`encoder`), its preprocessing and volume normalisation."""

    def __init__(self) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import resemblyzer
                from resemblyzer.audio import normalize_volume
                from resemblyzer.hparams import audio_norm_target_dBFS
        except ImportError as exc:
            raise MediaError(
                "Voice matching is not installed on this server (resemblyzer); ask an administrator to install it.",
                code="voice_unavailable",
            ) from exc
        self._preprocess: Any = resemblyzer.preprocess_wav
        self._normalize_volume: Any = normalize_volume
        self._target_dbfs = float(audio_norm_target_dBFS)
        self.encoder: Any = resemblyzer.VoiceEncoder("cpu", verbose=False)

    def speech(self, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        """Speech at 16 kHz with long silences cut out (resemblyzer's own voice-activity trim), from
        `samples` at the toolkit's `AUDIO_RATE`."""
        if is_silent(samples):
            return np.zeros(0, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self._preprocess(samples, source_sr=AUDIO_RATE), dtype=np.float32)

    def embed(self, speech: NDArray[np.float32]) -> NDArray[np.float64]:
        """The 256-d unit-length embedding of an utterance prepared by `speech`."""
        return np.asarray(self.encoder.embed_utterance(speech), dtype=np.float64)

    def normalize(self, wav: NDArray[np.float32]) -> NDArray[np.float32]:
        """Raise quiet speech to resemblyzer's reference loudness (never lowers it)."""
        return np.asarray(
            self._normalize_volume(wav, self._target_dbfs, increase_only=True), dtype=np.float32
        )


_lock = threading.Lock()
_encoder: VoiceEncoder | None = None


def voice_encoder() -> VoiceEncoder:
    """The process's one `VoiceEncoder`, loaded on first use (raises `MediaError` if resemblyzer is missing)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = VoiceEncoder()
        return _encoder
