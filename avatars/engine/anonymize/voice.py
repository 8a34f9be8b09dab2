"""Voice anonymization: McAdams-coefficient LPC pole shifting, with the clinician's voice kept.

Speech is analysed in 20 ms Hann frames every 10 ms. Each frame's spectral envelope is an order-20
LPC filter; its complex poles sit at the formant frequencies. Raising each pole's angle φ to the
power α (the McAdams coefficient) moves the formants non-linearly, which changes the apparent
vocal tract, the main thing speaker-recognition models key on, while the LPC residual (pitch,
timing, what is said) is kept. Frames are filtered back through the shifted envelope and
overlap-added; α = 1 gives the input back. A fresh α is drawn per video, so outputs of two videos
cannot be compared by undoing one known shift.

When the clinician's voice embedding is given, stretches of sound are attributed by resemblyzer
embeddings on sliding 1.6 s windows (2 per second): a sample is kept as recorded only where every
window of speech covering it sounds like the clinician. Everything else is anonymized, so speech
that cannot be attributed (overlaps, too short, noisy) is changed rather than kept.

Audio is worked on at 16 kHz (what resemblyzer and the LPC model expect; the band above 8 kHz
carries voice identity that the shift would not touch, so it is not kept) through files on disk,
chunk by chunk: memory stays flat however long the recording.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.errors import AnonymizeError

RATE = 16_000
FRAME = 320  # 20 ms
HOP = 160  # 10 ms
ORDER = 20
#: Range of the per-video McAdams coefficient; see BENCHMARKS.md for the privacy/intelligibility
#: numbers this range gives on LibriSpeech.
ALPHA_RANGE = (0.7, 0.9)
#: Frames quieter than this (about -80 dBFS RMS) are passed through: LPC is meaningless on silence.
SILENT_FRAME_RMS = 1e-4
#: Processing chunk: 10 s of frames at a time.
CHUNK_FRAMES = 1000
#: Speaker attribution windows (resemblyzer's partial utterances) and their spacing.
WINDOW_SECONDS = 1.6
WINDOWS_PER_SECOND = 2.0
PARTIAL_FRAMES = 160  # resemblyzer's partial utterance: 160 mel frames of 10 ms
ATTRIBUTION_CHUNK_SECONDS = 60.0
#: WebRTC voice-activity detector mode (0 lenient .. 3 strict); 2 suits room recordings.
VAD_AGGRESSIVENESS = 2
#: A window with less speech than this share holds nothing to attribute.
WINDOW_SPEECH_SHARE = 0.25
#: Cross-fade between kept and anonymized sound.
FADE_SECONDS = 0.03
#: Speech used for the similarity figures of the report (enough for a stable embedding).
REPORT_SECONDS = 60.0


def draw_alpha(rng: np.random.Generator) -> float:
    """A fresh McAdams coefficient for one video."""
    return float(rng.uniform(*ALPHA_RANGE))


def _hann() -> NDArray[np.float64]:
    # Periodic Hann: at a hop of half its length the windows sum to exactly one.
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)


def _lpc(frames: NDArray[np.float64]) -> NDArray[np.float64]:
    import librosa

    return np.asarray(librosa.lpc(frames, order=ORDER, axis=-1), dtype=np.float64)


def _roots(coefficients: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Roots of many monic polynomials at once (eigenvalues of their companion matrices)."""
    count = coefficients.shape[0]
    companion = np.zeros((count, ORDER, ORDER))
    companion[:, 0, :] = -coefficients[:, 1:]
    companion[:, np.arange(1, ORDER), np.arange(ORDER - 1)] = 1.0
    return np.asarray(np.linalg.eigvals(companion))


def _poly(roots: NDArray[np.complex128]) -> NDArray[np.float64]:
    """Monic polynomial coefficients from roots, row by row (conjugate pairs give real results)."""
    coefficients = np.zeros((roots.shape[0], ORDER + 1), dtype=np.complex128)
    coefficients[:, 0] = 1.0
    for k in range(ORDER):
        coefficients[:, 1 : k + 2] -= roots[:, k : k + 1] * coefficients[:, : k + 1]
    return coefficients.real


def mcadams_frames(frames: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Shift the formants of windowed frames (rows); returns the frames to overlap-add."""
    output = frames.copy()
    loud = np.sqrt(np.mean(frames**2, axis=1)) > SILENT_FRAME_RMS
    if not loud.any():
        return output
    x = frames[loud]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _lpc(x)
    usable = np.isfinite(a).all(axis=1)
    x, a = x[usable], a[usable]
    roots = _roots(a)
    angles = np.angle(roots)
    # Only complex poles move; real poles (angle 0 or π) have no formant to shift.
    complex_pole = (np.abs(roots.imag) > 1e-8) & (np.abs(angles) < np.pi - 1e-6)
    shifted = np.where(complex_pole, np.sign(angles) * np.abs(angles) ** alpha, angles)
    new_a = _poly(np.abs(roots) * np.exp(1j * shifted))
    # Residual: the frame through its own inverse (FIR) filter, then through the shifted (IIR) one.
    residual = np.zeros_like(x)
    for k in range(ORDER + 1):
        residual[:, k:] += a[:, k : k + 1] * x[:, : FRAME - k]
    y = np.zeros_like(x)
    feedback = new_a[:, 1:][:, ::-1]  # a'_ORDER ... a'_1, to dot with y[t-ORDER : t]
    padded = np.zeros((x.shape[0], FRAME + ORDER))
    for t in range(FRAME):
        value = residual[:, t] - np.einsum("ij,ij->i", feedback, padded[:, t : t + ORDER])
        padded[:, t + ORDER] = value
    y = padded[:, ORDER:]
    indices = np.flatnonzero(loud)[usable]
    output[indices] = y
    return output


def mcadams_file(source: NDArray[np.float32], target: NDArray[np.float32], alpha: float) -> None:
    """Anonymize `source` into `target` (same length; e.g. memory-mapped files), chunk by chunk."""
    window = _hann()
    length = len(source)
    target[:] = 0.0
    starts = np.arange(-HOP, length, HOP)
    for chunk in range(0, len(starts), CHUNK_FRAMES):
        block = starts[chunk : chunk + CHUNK_FRAMES]
        first, last = int(block[0]), int(block[-1]) + FRAME
        lo, hi = max(0, first), min(length, last)
        span = np.zeros(last - first)
        span[lo - first : hi - first] = source[lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(span, FRAME)[::HOP][: len(block)] * window
        processed = mcadams_frames(frames, alpha)
        out = np.zeros(last - first)
        for i in range(len(block)):
            out[i * HOP : i * HOP + FRAME] += processed[i]
        target[lo:hi] += out[lo - first : hi - first].astype(np.float32)
    np.clip(target, -1.0, 1.0, out=target)


@dataclass(frozen=True)
class VoiceReport:
    """What happened to the sound track.

    Seconds are of sound judged to be speech. `anonymized_similarity` is the resemblyzer cosine
    similarity between the anonymized speech and the same speech before anonymization (1 = same
    voice; different people score about 0.45 to 0.75); `kept_similarity` that of the kept speech
    to the enrolled clinician voice. None where there was no such speech.
    """

    has_audio: bool
    speech_seconds: float = 0.0
    kept_seconds: float = 0.0
    anonymized_seconds: float = 0.0
    anonymized_similarity: float | None = None
    kept_similarity: float | None = None


def _encoder() -> object:
    from avatars.engine import statement

    # One loaded resemblyzer model for the whole product (the statement check's).
    return statement._voices().encoder


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run the speaker model on one thread: with two busy cores, torch's default thread pool spins
    against the video encoder and a 10 s embedding took 20-30 s instead of 0.4 s (measured)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _embed(samples: NDArray[np.float32]) -> NDArray[np.float64]:
    encoder = _encoder()
    with warnings.catch_warnings(), _one_torch_thread():
        warnings.simplefilter("ignore")
        return np.asarray(encoder.embed_utterance(np.asarray(samples, dtype=np.float32)), dtype=np.float64)  # type: ignore[attr-defined]


def window_similarities(
    samples: NDArray[np.float32], speech: NDArray[np.bool_], keep_voice: NDArray[np.float64]
) -> list[tuple[int, int, float | None]]:
    """(start, stop, similarity to `keep_voice`) of sliding windows; None where a window is silent."""
    import torch
    from resemblyzer import audio

    encoder = _encoder()
    window = round(WINDOW_SECONDS * RATE)
    step = round(RATE / WINDOWS_PER_SECOND)
    keep = keep_voice / max(float(np.linalg.norm(keep_voice)), 1e-9)
    results: list[tuple[int, int, float | None]] = []
    starts = list(range(0, max(1, len(samples) - window // 2), step))
    batch = round(ATTRIBUTION_CHUNK_SECONDS * WINDOWS_PER_SECOND)
    for first in range(0, len(starts), batch):
        speech: list[tuple[int, NDArray[np.float32]]] = []
        for start in starts[first : first + batch]:
            piece = _padded(samples, start, start + window)
            if float(np.count_nonzero(speech[start : start + window])) / window >= WINDOW_SPEECH_SHARE:
                speech.append((start, piece))
            else:
                results.append((start, start + window, None))
        if not speech:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mels = np.stack([audio.wav_to_mel_spectrogram(piece)[:PARTIAL_FRAMES] for _, piece in speech])
            # One batched forward pass per minute of windows.
            with torch.no_grad(), _one_torch_thread():
                embeddings = encoder(torch.from_numpy(mels)).numpy()  # type: ignore[operator]
        for (start, _), embedding in zip(speech, embeddings, strict=True):
            results.append((start, start + window, float(embedding @ keep)))
    results.sort()
    return results


def _padded(samples: NDArray[np.float32], start: int, stop: int) -> NDArray[np.float32]:
    piece = np.zeros(stop - start, dtype=np.float32)
    available = np.asarray(samples[start:stop], dtype=np.float32)
    piece[: len(available)] = available
    return piece


def keep_mask(
    length: int, windows: list[tuple[int, int, float | None]], threshold: float
) -> NDArray[np.float32]:
    """Per-sample weight of the original sound: 1 where every speech window says 'clinician'."""
    votes = np.zeros(length, dtype=np.int16)
    vetoes = np.zeros(length, dtype=np.int16)
    for start, stop, similarity in windows:
        if similarity is None:
            continue
        if similarity >= threshold:
            votes[start:stop] += 1
        else:
            vetoes[start:stop] += 1
    mask = ((votes > 0) & (vetoes == 0)).astype(np.float32)
    fade = max(1, round(FADE_SECONDS * RATE))
    # Shrink kept stretches by the fade length, then ramp: no anonymized sample ever leaks through
    # at full level into a kept stretch's edge, and the switch does not click.
    kernel = np.ones(fade, dtype=np.float32) / fade
    eroded = (np.convolve(mask, kernel, mode="same") >= 0.999).astype(np.float32)
    return np.asarray(np.convolve(eroded, kernel, mode="same"), dtype=np.float32)


def speech_mask(samples: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Per-sample speech flags from WebRTC's voice-activity detector (30 ms frames, 0.2 s hangover).

    A level threshold would miss quiet recordings; the detector works on the signal's shape.
    """
    import webrtcvad

    detector = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    frame = RATE * 30 // 1000
    count = len(samples) // frame
    flags = np.zeros(count + 1, dtype=bool)
    block = frame * 2000
    for start in range(0, count * frame, block):
        chunk = np.asarray(samples[start : min(start + block, count * frame)], dtype=np.float32)
        # Quiet recordings are brought up to a common level first: the detector is level-sensitive.
        peak = float(np.max(np.abs(chunk))) if len(chunk) else 0.0
        gain = 0.5 / peak if peak > 1e-4 else 1.0
        pcm = (np.clip(chunk * gain, -1, 1) * 32767).astype("<i2").tobytes()
        for i in range(len(chunk) // frame):
            flags[start // frame + i] = detector.is_speech(pcm[i * frame * 2 : (i + 1) * frame * 2], RATE)
    hangover = max(1, round(0.2 / 0.03))
    spread = np.convolve(flags.astype(np.int32), np.ones(2 * hangover + 1, dtype=np.int32), mode="same") > 0
    mask = np.repeat(spread, frame)[: len(samples)]
    if len(mask) < len(samples):
        mask = np.concatenate([mask, np.zeros(len(samples) - len(mask), dtype=bool)])
    return mask


def anonymize_voice(
    source: NDArray[np.float32],
    target: NDArray[np.float32],
    *,
    alpha: float,
    keep_voice: NDArray[np.float64] | None,
    keep_threshold: float,
) -> VoiceReport:
    """Write the anonymized sound of `source` into `target` and measure the result."""
    if len(source) == 0:
        return VoiceReport(has_audio=True)
    mcadams_file(source, target, alpha)
    speech = speech_mask(source)
    kept = np.zeros(len(source), dtype=np.float32)
    if keep_voice is not None:
        if keep_voice.shape != (256,):
            raise AnonymizeError(
                "The clinician's voice template is not a 256-value resemblyzer embedding; enroll the voice again.",
                code="invalid_spec",
            )
        kept = keep_mask(len(source), window_similarities(source, speech, keep_voice), keep_threshold)
        block = RATE * 10
        for start in range(0, len(source), block):
            weight = kept[start : start + block]
            if weight.any():
                original = np.asarray(source[start : start + block], dtype=np.float32)
                changed = np.asarray(target[start : start + block], dtype=np.float32)
                target[start : start + block] = changed + weight * (original - changed)
    kept_speech = speech & (kept > 0.5)
    changed_speech = speech & ~(kept > 0.5)
    report = VoiceReport(
        has_audio=True,
        speech_seconds=float(speech.sum()) / RATE,
        kept_seconds=float(kept_speech.sum()) / RATE,
        anonymized_seconds=float(changed_speech.sum()) / RATE,
    )
    limit = round(REPORT_SECONDS * RATE)
    changed_idx = np.flatnonzero(changed_speech)[:limit]
    anonymized_similarity = None
    if len(changed_idx) >= RATE:
        before = _embed(np.asarray(source[changed_idx]))
        after = _embed(np.asarray(target[changed_idx]))
        anonymized_similarity = float(before @ after)
    kept_similarity = None
    kept_idx = np.flatnonzero(kept_speech)[:limit]
    if keep_voice is not None and len(kept_idx) >= RATE:
        kept_similarity = float(
            _embed(np.asarray(target[kept_idx])) @ (keep_voice / np.linalg.norm(keep_voice))
        )
    return VoiceReport(
        has_audio=True,
        speech_seconds=report.speech_seconds,
        kept_seconds=report.kept_seconds,
        anonymized_seconds=report.anonymized_seconds,
        anonymized_similarity=anonymized_similarity,
        kept_similarity=kept_similarity,
    )
