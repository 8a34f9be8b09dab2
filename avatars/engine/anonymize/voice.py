"""Voice anonymization: formant normalization plus McAdams-coefficient LPC pole shifting, with the
clinician's voice kept.

Speech is analysed in 20 ms Hann frames every 10 ms. Each frame's spectral envelope is an order-20
LPC filter; its complex poles sit at the formant frequencies. Two things move them, per video:

* **formant normalization**: the speaker's typical third formant (a measure of vocal-tract length,
  one of the strongest cues speaker recognition keys on) is found over the speech to anonymize,
  and every pole angle is scaled so it lands on a target drawn at random (±20% around 2.5 kHz):
  whoever spoke, the output's vocal tract is the drawn one, not a shifted copy of theirs;
* **McAdams coefficient**: each angle φ (radians) then becomes φ^α, a non-linear shift of the
  formants with a fresh α per video.

The LPC residual (pitch, timing, what is said) is kept, and frames are filtered back through the
moved envelope and overlap-added (α = 1 and no scaling give the input back). McAdams alone, even
with a fresh α per video, fails against an attacker who enrols anonymized speech (6-14% EER on
LibriSpeech with resemblyzer); with the normalization every attacker measured is at 30% or more,
see BENCHMARKS.md.

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
import tempfile
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
#: Range of the per-video McAdams coefficient and of the drawn vocal-tract scale; see
#: BENCHMARKS.md for the privacy and intelligibility these ranges give on LibriSpeech.
ALPHA_RANGE = (0.6, 0.8)
TRACT_RANGE = (0.8, 1.2)
#: Pitch moved up or down (at random) by this many semitones, per video.
PITCH_SEMITONES = (2.0, 3.5)
#: WSOLA segment (30 ms) and how far a segment may move to line up with the previous one (10 ms).
SEGMENT = 480
SEARCH = 160
#: The reference third formant (Hz) a scale of 1 maps a speaker's median third formant to, and
#: the most the normalization may scale a voice (a bad estimate must not wreck the speech).
REFERENCE_F3 = 2500.0
WARP_LIMITS = (0.7, 1.4)
#: Formant estimation: frames louder than this share of the speech frames, poles this sharp.
FORMANT_LOUD_SHARE = 0.4
FORMANT_POLE_RADIUS = 0.9
FORMANT_SAMPLE_FRAMES = 6000
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


@dataclass(frozen=True)
class VoiceChange:
    """The secret, per-video parameters of the voice change (never shown to anyone).

    `pitch` is a frequency ratio (1 = unchanged)."""

    alpha: float
    tract: float
    pitch: float = 1.0


def draw_change(rng: np.random.Generator) -> VoiceChange:
    """Fresh parameters for one video."""
    semitones = float(rng.uniform(*PITCH_SEMITONES)) * float(rng.choice([-1.0, 1.0]))
    return VoiceChange(
        alpha=float(rng.uniform(*ALPHA_RANGE)),
        tract=float(rng.uniform(*TRACT_RANGE)),
        pitch=float(2 ** (semitones / 12)),
    )


def _wsola(source: NDArray[np.float32], target: NDArray[np.float32], scale: float) -> None:
    """Time-stretch `source` into `target` (about `scale` times as long) keeping its pitch.

    WSOLA: 30 ms Hann segments every 15 ms of output; each is taken from near its nominal place in
    the input, shifted by up to 10 ms to the position that best continues the previous segment
    (cross-correlation), so pitch periods line up and overlap-add does not smear them.
    """
    length = SEGMENT // 2
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(SEGMENT) / SEGMENT)
    analysis = length / scale
    target[:] = 0.0

    def piece(start: int, count: int) -> NDArray[np.float64]:
        out = np.zeros(count)
        lo, hi = max(0, start), min(len(source), start + count)
        if hi > lo:
            out[lo - start : hi - start] = source[lo:hi]
        return out

    previous: int | None = None
    step = 0
    while True:
        nominal = round(step * analysis)
        at = step * length
        if nominal >= len(source) or at >= len(target):
            break
        position = nominal
        if previous is not None:
            wanted = piece(previous + length, SEGMENT)
            around = piece(nominal - SEARCH, SEGMENT + 2 * SEARCH)
            position = nominal - SEARCH + int(np.argmax(np.correlate(around, wanted, mode="valid")))
        segment = piece(position, SEGMENT) * window
        end = min(len(target), at + SEGMENT)
        target[at:end] += segment[: end - at].astype(np.float32)
        previous = position
        step += 1


def _resample_into(source: NDArray[np.float32], target: NDArray[np.float32], up: int, down: int) -> None:
    """Polyphase resampling by up/down, chunk by chunk with enough context that the chunks join
    exactly; `target` is filled (cut or zero-padded at its end)."""
    from scipy.signal import resample_poly

    chunk = down * max(1, (10 * RATE) // down)
    context = down * max(1, 4096 // down)
    target[:] = 0.0
    for start in range(0, len(source), chunk):
        lo, hi = max(0, start - context), min(len(source), start + chunk + context)
        piece = np.asarray(source[lo:hi], dtype=np.float64)
        # Zero context before the start is what resample_poly assumes anyway.
        done = resample_poly(piece, up, down)
        skip = (start - lo) * up // down
        count = min(len(source), start + chunk) - start
        produced = done[skip : skip + count * up // down]
        first = start * up // down
        end = min(len(target), first + len(produced))
        if end > first:
            target[first:end] = produced[: end - first].astype(np.float32)


def shift_pitch(source: NDArray[np.float32], target: NDArray[np.float32], ratio: float) -> None:
    """Raise (ratio > 1) or lower the pitch of `source` into `target` (same length), keeping
    timing: stretch in time by `ratio` (WSOLA), then resample back to the original length. The
    formants move with the pitch here; the formant normalization that follows puts them where
    the drawn vocal tract wants them."""
    from fractions import Fraction

    if abs(ratio - 1.0) < 1e-3:
        target[:] = source[:]
        return
    fraction = Fraction(ratio).limit_denominator(48)
    with tempfile.TemporaryFile() as handle:
        stretched = np.memmap(
            handle, dtype=np.float32, mode="w+", shape=(int(len(source) * float(fraction)) + SEGMENT,)
        )
        _wsola(source, stretched, float(fraction))
        _resample_into(stretched, target, fraction.denominator, fraction.numerator)
        del stretched


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


def mcadams_frames(frames: NDArray[np.float64], alpha: float, warp: float = 1.0) -> NDArray[np.float64]:
    """Move the formants of windowed frames (rows): angles scaled by `warp`, then raised to `alpha`.

    Returns the frames to overlap-add."""
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
    scaled = np.minimum(np.abs(angles) * warp, np.pi - 0.05)
    shifted = np.where(complex_pole, np.sign(angles) * scaled**alpha, angles)
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


def _frames_at(source: NDArray[np.float32], starts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Hann-windowed frames of `source` starting at `starts` (zero outside the signal)."""
    window = _hann()
    first, last = int(starts[0]), int(starts[-1]) + FRAME
    lo, hi = max(0, first), min(len(source), last)
    span = np.zeros(last - first)
    span[lo - first : hi - first] = source[lo:hi]
    offsets = starts - first
    frames: NDArray[np.float64] = span[offsets[:, None] + np.arange(FRAME)] * window
    return frames


def median_f3(source: NDArray[np.float32], speech: NDArray[np.bool_]) -> float | None:
    """The speaker's median third formant (Hz) over loud frames of the speech hops `speech`; None
    without enough speech.

    Up to `FORMANT_SAMPLE_FRAMES` frames spread over the recording are analysed, so the cost
    does not grow with its length.
    """
    starts = np.flatnonzero(speech) * HOP
    starts = starts[starts + FRAME <= len(source)]
    if len(starts) < 50:
        return None
    if len(starts) > FORMANT_SAMPLE_FRAMES:
        starts = starts[np.linspace(0, len(starts) - 1, FORMANT_SAMPLE_FRAMES).astype(int)]
    frames = _frames_at(source, starts)
    loudness = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[loudness >= np.quantile(loudness, 1 - FORMANT_LOUD_SHARE)]
    frames = frames[np.sqrt(np.mean(frames**2, axis=1)) > SILENT_FRAME_RMS]
    if len(frames) < 20:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _lpc(frames)
    a = a[np.isfinite(a).all(axis=1)]
    roots = _roots(a)
    sharp = (roots.imag > 0) & (np.abs(roots) > FORMANT_POLE_RADIUS)
    hertz = np.angle(roots) * RATE / (2 * np.pi)
    candidates = hertz[sharp & (hertz > 2000) & (hertz < 3500)]
    return float(np.median(candidates)) if len(candidates) >= 20 else None


def tract_warp(f3: float | None, change: VoiceChange) -> float:
    """Angle scale taking the speaker's third formant to the drawn target."""
    if f3 is None:
        return change.tract
    return float(np.clip(change.tract * REFERENCE_F3 / f3, *WARP_LIMITS))


def mcadams_file(
    source: NDArray[np.float32], target: NDArray[np.float32], alpha: float, warp: float = 1.0
) -> None:
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
        processed = mcadams_frames(frames, alpha, warp)
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
    from core.media.loaders.resemblyzer_voice import voice_encoder

    # One loaded resemblyzer model for the whole product (the statement check's too).
    return voice_encoder().encoder


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
    """(first hop, end hop, similarity to `keep_voice`) of sliding windows; None where a window
    holds too little speech. `speech` has one flag per 10 ms hop."""
    import torch
    from resemblyzer import audio

    encoder = _encoder()
    window = round(WINDOW_SECONDS * RATE)
    hops = window // HOP
    step = round(RATE / WINDOWS_PER_SECOND)
    keep = keep_voice / max(float(np.linalg.norm(keep_voice)), 1e-9)
    results: list[tuple[int, int, float | None]] = []
    starts = list(range(0, max(1, len(samples) - window // 2), step))
    batch = round(ATTRIBUTION_CHUNK_SECONDS * WINDOWS_PER_SECOND)
    for first in range(0, len(starts), batch):
        voiced: list[tuple[int, NDArray[np.float32]]] = []
        for start in starts[first : first + batch]:
            hop = start // HOP
            if float(np.count_nonzero(speech[hop : hop + hops])) / hops >= WINDOW_SPEECH_SHARE:
                voiced.append((hop, _padded(samples, start, start + window)))
            else:
                results.append((hop, hop + hops, None))
        if not voiced:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mels = np.stack([audio.wav_to_mel_spectrogram(piece)[:PARTIAL_FRAMES] for _, piece in voiced])
            # One batched forward pass per minute of windows.
            with torch.no_grad(), _one_torch_thread():
                embeddings = encoder(torch.from_numpy(mels)).numpy()  # type: ignore[operator]
        for (hop, _), embedding in zip(voiced, embeddings, strict=True):
            results.append((hop, hop + hops, float(embedding @ keep)))
    results.sort()
    return results


def _padded(samples: NDArray[np.float32], start: int, stop: int) -> NDArray[np.float32]:
    piece = np.zeros(stop - start, dtype=np.float32)
    available = np.asarray(samples[start:stop], dtype=np.float32)
    piece[: len(available)] = available
    return piece


def keep_weights(
    hops: int, windows: list[tuple[int, int, float | None]], threshold: float
) -> NDArray[np.float32]:
    """Weight of the original sound per 10 ms hop: 1 only where every speech window covering it
    sounds like the clinician, ramping over `FADE_SECONDS` inside those stretches."""
    votes = np.zeros(hops, dtype=np.int16)
    vetoes = np.zeros(hops, dtype=np.int16)
    for start, stop, similarity in windows:
        if similarity is None:
            continue
        if similarity >= threshold:
            votes[start:stop] += 1
        else:
            vetoes[start:stop] += 1
    mask = ((votes > 0) & (vetoes == 0)).astype(np.float32)
    fade = max(1, round(FADE_SECONDS * RATE / HOP))
    # Shrink kept stretches by the fade length, then ramp: no anonymized sample ever leaks through
    # at full level into a kept stretch's edge, and the switch does not click.
    kernel = np.ones(2 * fade + 1, dtype=np.float32) / (2 * fade + 1)
    eroded = (np.convolve(mask, kernel, mode="same") >= 0.999).astype(np.float32)
    return np.asarray(np.convolve(eroded, kernel, mode="same"), dtype=np.float32)


def speech_hops(samples: NDArray[np.float32]) -> NDArray[np.bool_]:
    """One speech flag per 10 ms hop, from WebRTC's voice-activity detector (30 ms frames) with a
    0.2 s hangover. A level threshold would miss quiet recordings; the detector looks at shape."""
    import webrtcvad

    detector = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    frame = 3 * HOP  # 30 ms
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
    hops = -(-len(samples) // HOP)
    result = np.zeros(hops, dtype=bool)
    repeated = np.repeat(spread, 3)[:hops]
    result[: len(repeated)] = repeated
    return result


def _gather(samples: NDArray[np.float32], hops: NDArray[np.bool_], limit: int) -> NDArray[np.float32]:
    """The samples of the flagged hops, in order, up to `limit` samples."""
    pieces: list[NDArray[np.float32]] = []
    total = 0
    for hop in np.flatnonzero(hops):
        if total >= limit:
            break
        piece = np.asarray(samples[hop * HOP : (hop + 1) * HOP], dtype=np.float32)
        pieces.append(piece)
        total += len(piece)
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def anonymize_voice(
    source: NDArray[np.float32],
    target: NDArray[np.float32],
    *,
    change: VoiceChange,
    keep_voice: NDArray[np.float64] | None,
    keep_threshold: float,
) -> VoiceReport:
    """Write the anonymized sound of `source` into `target` and measure the result."""
    if len(source) == 0:
        return VoiceReport(has_audio=True)
    speech = speech_hops(source)
    kept = np.zeros(len(speech), dtype=np.float32)
    if keep_voice is not None:
        if keep_voice.shape != (256,):
            raise AnonymizeError(
                "The clinician's voice template is not a 256-value resemblyzer embedding; enroll the voice again.",
                code="invalid_spec",
            )
        kept = keep_weights(len(speech), window_similarities(source, speech, keep_voice), keep_threshold)
    changed_speech = speech & (kept < 0.5)
    kept_speech = speech & (kept >= 0.5)
    # Pitch first (into `target`, used as scratch), then the formants of that, back into `target`.
    with tempfile.TemporaryFile() as handle:
        pitched = np.memmap(handle, dtype=np.float32, mode="w+", shape=(len(source),))
        shift_pitch(source, pitched, change.pitch)
        # The vocal tract to normalize is that of the speech being changed, not the clinician's.
        warp = tract_warp(median_f3(pitched, changed_speech), change)
        mcadams_file(pitched, target, change.alpha, warp)
        del pitched
    if kept.any():
        block = RATE * 10
        centres = (np.arange(len(kept)) + 0.5) * HOP
        for start in range(0, len(source), block):
            positions = np.arange(start, min(len(source), start + block))
            weight = np.interp(positions, centres, kept).astype(np.float32)
            if weight.any():
                original = np.asarray(source[positions[0] : positions[-1] + 1], dtype=np.float32)
                changed = np.asarray(target[positions[0] : positions[-1] + 1], dtype=np.float32)
                target[positions[0] : positions[-1] + 1] = changed + weight * (original - changed)
    limit = round(REPORT_SECONDS * RATE)
    anonymized_similarity = None
    if changed_speech.sum() * HOP >= RATE:
        before = _embed(_gather(source, changed_speech, limit))
        after = _embed(_gather(target, changed_speech, limit))
        anonymized_similarity = float(before @ after)
    kept_similarity = None
    if keep_voice is not None and kept_speech.sum() * HOP >= RATE:
        heard = _embed(_gather(target, kept_speech, limit))
        kept_similarity = float(heard @ (keep_voice / np.linalg.norm(keep_voice)))
    return VoiceReport(
        has_audio=True,
        speech_seconds=float(speech.sum()) * HOP / RATE,
        kept_seconds=float(kept_speech.sum()) * HOP / RATE,
        anonymized_seconds=float(changed_speech.sum()) * HOP / RATE,
        anonymized_similarity=anonymized_similarity,
        kept_similarity=kept_similarity,
    )
