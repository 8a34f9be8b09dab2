"""Synthetic and transformed speech made here, for training and testing the synthetic-speech model.

Each generator takes or makes mono float32 speech at 16 kHz:

* `tts`: the product's own offline text-to-speech (`avatars.engine.speech.synthesize`, espeak-ng),
  any espeak voice and variant (`en+m3`, `en-us+klatt2`, ...);
* `griffin_lim`: a real recording turned into an 80-band mel spectrogram and back (the phase
  reconstruction of early neural TTS vocoders);
* `pitch_shift`: a phase-vocoder pitch change (a simple voice changer);
* `mcadams`: McAdams-coefficient voice anonymisation (the formants' pole angles raised to a power,
  the excitation kept), the transformation SPEC §3.5 names for patient voices;
* `lpc_vocoder`: a source-filter vocoder: the recording's spectral envelope driven by a synthetic
  pulse train (voiced) or noise (unvoiced), a robotic "voice clone" of the simplest kind;
* `harmonic_vocoder`: a sinusoidal vocoder: harmonics of the tracked pitch with amplitudes from
  the cepstrally smoothed spectral envelope, and envelope-shaped noise where speech is unvoiced
  (the analysis-synthesis scheme of parametric TTS back ends).

Deterministic for a given input and `numpy.random.Generator`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.engine.media import AUDIO_RATE

#: Sentences for TTS; the first `TRAINING_SENTENCES` are for training, the rest for testing.
SENTENCES = (
    "Take one tablet every morning with a full glass of water.",
    "Please call the clinic if you notice any swelling or a rash.",
    "Your blood pressure today is a little higher than last time.",
    "We recommend a follow-up visit in about three weeks.",
    "Stretch gently each morning to keep your back flexible.",
    "Wash your hands before and after changing the bandage.",
    "This medicine may make you feel drowsy, so do not drive.",
    "Drink plenty of fluids and rest for the next few days.",
    "Your test results came back and everything looks normal.",
    "Keep the wound dry for the first forty eight hours.",
    "A balanced diet includes vegetables, fruit and whole grains.",
    "If the pain gets worse, go to the emergency department.",
    "Our clinic opens at eight in the morning on weekdays.",
    "Please bring a list of all the medicines you are taking.",
    "The vaccine is safe and helps protect your whole family.",
    "Remember to check your sugar levels before every meal.",
    "Physical therapy helps your knee recover after surgery.",
    "You can book your next appointment online or by phone.",
    "Avoid alcohol while you are taking these antibiotics.",
    "I am happy to answer any questions you have about the treatment.",
    "Sleep at least seven hours and try to keep a regular schedule.",
    "The nurse will measure your height and weight first.",
    "Use the inhaler twice a day, even when you feel well.",
    "Call us right away if you have trouble breathing.",
    "Apply the cream to the affected area twice a day.",
    "This exercise strengthens the muscles around your shoulder.",
    "Do not eat or drink anything after midnight before the procedure.",
    "Your prescription is ready to pick up at the pharmacy.",
    "Walking thirty minutes a day can lower your risk of heart disease.",
    "We will send the lab results to your patient portal.",
    "Limit salt in your meals to help control your blood pressure.",
    "Tell the doctor about any allergies before the injection.",
    "Children under six should not take this medicine.",
    "Store the vials in the refrigerator, away from light.",
    "The swelling should go down within a week or two.",
    "Put ice on your ankle for twenty minutes every few hours.",
    "Your heart rhythm looks regular on today's recording.",
    "Please arrive fifteen minutes early to fill in the forms.",
    "A mild fever after the vaccine is common and not serious.",
    "We can adjust the dose if the side effects bother you.",
    "Hello, this is your doctor with an important message about your account.",
    "Send us your card number so we can refund the consultation fee.",
    "This supplement cures diabetes in two weeks without any medicine.",
    "Stop taking your prescribed pills and use this natural remedy instead.",
    "Order today and receive a second bottle completely free.",
    "I personally recommend this treatment to all my patients.",
    "Confirm your date of birth and insurance number by replying to this message.",
    "Our new therapy reverses aging at the cellular level.",
)
TRAINING_SENTENCES = 36
#: espeak voices for training; the Klatt-synthesiser variants are kept for testing only.
TRAINING_VOICES = ("en", "en-us", "en+m1", "en+m3", "en+f1", "en+f3", "en-gb-x-rp+m2", "en-us+f2")
TEST_VOICES = ("en+klatt", "en-us+klatt2", "en+klatt4", "en-gb-x-rp+klatt3")


def tts(text: str, voice: str, *, words_per_minute: int = 160) -> NDArray[np.float32]:
    """The product's espeak-ng speech for `text` in `voice`, at 16 kHz."""
    import librosa

    from avatars.engine.speech import SAMPLE_RATE, synthesize

    track = synthesize(text, language=voice, words_per_minute=words_per_minute)
    return np.asarray(
        librosa.resample(track.samples, orig_sr=SAMPLE_RATE, target_sr=AUDIO_RATE), dtype=np.float32
    )


def griffin_lim(samples: NDArray[np.float32], *, iterations: int = 24) -> NDArray[np.float32]:
    """Mel spectrogram (80 bands) inverted by Griffin-Lim phase reconstruction.

    The magnitude comes back through the mel filters' pseudo-inverse (librosa's own inverse
    solves a non-negative least squares per frame, 30x slower for the same audible result).
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=samples, sr=AUDIO_RATE, n_fft=1024, hop_length=256, n_mels=80, power=1.0
    )
    basis = librosa.filters.mel(sr=AUDIO_RATE, n_fft=1024, n_mels=80)
    magnitude = np.maximum(np.linalg.pinv(basis) @ mel, 0.0)
    audio = librosa.griffinlim(magnitude, n_iter=iterations, hop_length=256, n_fft=1024, random_state=0)
    return np.asarray(librosa.util.fix_length(audio, size=len(samples)), dtype=np.float32)


def pitch_shift(samples: NDArray[np.float32], semitones: float) -> NDArray[np.float32]:
    """Phase-vocoder pitch shift by `semitones`."""
    import librosa

    return np.asarray(
        librosa.effects.pitch_shift(samples, sr=AUDIO_RATE, n_steps=semitones), dtype=np.float32
    )


def _frames(samples: NDArray[np.float32], length: int, hop: int) -> NDArray[np.float64]:
    padded = np.pad(samples.astype(np.float64), (length, length))
    count = 1 + (len(padded) - length) // hop
    index = np.arange(length)[None, :] + hop * np.arange(count)[:, None]
    return np.asarray(padded[index], dtype=np.float64)


def _overlap_add(
    frames: NDArray[np.float64], hop: int, total: int, window: NDArray[np.float64]
) -> NDArray[np.float32]:
    length = frames.shape[1]
    out = np.zeros(hop * (len(frames) - 1) + length)
    norm = np.zeros_like(out)
    for index, frame in enumerate(frames):
        out[index * hop : index * hop + length] += frame * window
        norm[index * hop : index * hop + length] += window * window
    out = out / np.maximum(norm, 1e-6)
    return np.asarray(out[length : length + total], dtype=np.float32)


def _lpc(frame: NDArray[np.float64], order: int) -> NDArray[np.float64]:
    """LPC polynomial [1, a1, ..., ap] by the autocorrelation method (Levinson via Toeplitz solve)."""
    from scipy.linalg import solve_toeplitz

    correlation = np.correlate(frame, frame, mode="full")[len(frame) - 1 : len(frame) + order]
    if correlation[0] <= 1e-12:
        return np.concatenate([[1.0], np.zeros(order)])
    # A touch of white noise (lag-0 boost) keeps the solve well conditioned on near-silent frames.
    column = correlation[:order].copy()
    column[0] *= 1.0 + 1e-6
    coefficients = solve_toeplitz(column, -correlation[1 : order + 1])
    return np.concatenate([[1.0], coefficients])


def mcadams(samples: NDArray[np.float32], alpha: float, *, order: int = 20) -> NDArray[np.float32]:
    """McAdams-coefficient anonymisation: each LPC pole angle φ becomes φ^alpha (alpha 0.7-0.9)."""
    from scipy.signal import lfilter

    length, hop = 320, 160
    window = np.hanning(length)
    frames = _frames(samples, length, hop) * window
    out = np.zeros_like(frames)
    for index, frame in enumerate(frames):
        a = _lpc(frame, order)
        residual = lfilter(a, [1.0], frame)
        poles = np.roots(a)
        angles = np.angle(poles)
        moved = np.where(
            np.abs(np.imag(poles)) > 1e-8,
            np.abs(poles) * np.exp(1j * np.sign(angles) * np.abs(angles) ** alpha),
            poles,
        )
        new_a = np.real(np.poly(moved))
        out[index] = lfilter([1.0], new_a, residual)
    result = _overlap_add(out, hop, len(samples), window)
    peak = float(np.abs(result).max()) or 1.0
    return np.asarray(result / peak * float(np.abs(samples).max()), dtype=np.float32)


def lpc_vocoder(
    samples: NDArray[np.float32], rng: np.random.Generator, *, order: int = 18
) -> NDArray[np.float32]:
    """Source-filter resynthesis: the LPC envelope driven by pulses at the tracked pitch, or noise."""
    import librosa
    from scipy.signal import lfilter

    length, hop = 400, 160
    window = np.hanning(length)
    frames = _frames(samples, length, hop)
    f0 = librosa.yin(
        samples.astype(np.float64), fmin=70, fmax=350, sr=AUDIO_RATE, frame_length=1024, hop_length=hop
    )
    energy = np.sqrt((frames**2).mean(axis=1))
    crossings = (np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(axis=1)
    voiced_energy = np.quantile(energy, 0.5)
    out = np.zeros_like(frames)
    phase = 0.0
    for index, frame in enumerate(frames):
        a = _lpc(frame * window, order)
        gain = float(np.sqrt(max(np.mean(lfilter(a, [1.0], frame * window) ** 2), 0.0)))
        pitch = float(f0[min(index, len(f0) - 1)])
        if energy[index] > 0.3 * voiced_energy and crossings[index] < 0.25:
            period = AUDIO_RATE / pitch
            excitation = np.zeros(length)
            position = phase
            while position < length:
                excitation[int(position)] = np.sqrt(period)
                position += period
            phase = position - hop
        else:
            excitation = rng.normal(0, 1, length)
        out[index] = lfilter([1.0], a, excitation * gain)
    result = _overlap_add(out, hop, len(samples), window)
    peak = float(np.abs(result).max()) or 1.0
    return np.asarray(result / peak * float(np.abs(samples).max()), dtype=np.float32)


def harmonic_vocoder(samples: NDArray[np.float32], *, harmonics: int = 60) -> NDArray[np.float32]:
    """Resynthesise speech as pitch harmonics plus shaped noise from its spectral envelope."""
    import librosa

    hop, n_fft = 160, 1024
    audio = samples.astype(np.float64)
    f0 = librosa.yin(audio, fmin=70, fmax=350, sr=AUDIO_RATE, frame_length=n_fft, hop_length=hop)
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
    # Cepstral smoothing: keep the first 30 quefrencies (the envelope), drop the harmonic ripple.
    cepstrum = np.fft.irfft(np.log(magnitude + 1e-6), axis=0)
    cepstrum[30:-30] = 0.0
    envelope = np.exp(np.fft.rfft(cepstrum, axis=0).real)[: magnitude.shape[0]]
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    energy = magnitude.mean(axis=0)
    voiced = ((flatness < 0.1) & (energy > 0.2 * np.median(energy))).astype(np.float64)
    frames = min(len(f0), envelope.shape[1])
    times = np.arange(len(audio)) / hop
    pitch = np.interp(times, np.arange(frames), f0[:frames])
    voicing = np.interp(times, np.arange(frames), voiced[:frames])
    bin_hz = AUDIO_RATE / n_fft
    out = np.zeros(len(audio))
    phase = np.cumsum(2 * np.pi * pitch / AUDIO_RATE)
    for k in range(1, harmonics + 1):
        frequency = k * f0[:frames]
        if float(frequency.min()) >= AUDIO_RATE / 2 - 200:
            break
        bins = np.clip(np.round(frequency / bin_hz).astype(int), 0, envelope.shape[0] - 1)
        amplitude = np.where(frequency < AUDIO_RATE / 2 - 200, envelope[bins, np.arange(frames)], 0.0)
        out += np.interp(times, np.arange(frames), amplitude) * np.cos(k * phase)
    noise = np.random.default_rng(len(audio)).normal(0, 1, len(audio))
    shaped = librosa.istft(
        librosa.stft(noise, n_fft=n_fft, hop_length=hop)[:, :frames] * envelope[:, :frames],
        hop_length=hop,
        length=len(audio),
    )
    voiced_rms = float(np.sqrt(np.mean(out**2))) or 1.0
    noise_rms = float(np.sqrt(np.mean(shaped**2))) or 1.0
    mixed = voicing * out / voiced_rms + (1 - voicing) * shaped / noise_rms * 0.3
    target = float(np.sqrt(np.mean(audio**2)))
    return np.asarray(mixed / (float(np.sqrt(np.mean(mixed**2))) or 1.0) * target, dtype=np.float32)
