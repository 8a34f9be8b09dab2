"""Offline text-to-speech with per-phoneme timing, through espeak-ng's C API (ctypes).

espeak-ng reports a PHONEME event with its sample position for every phoneme it speaks
(`espeakINITIALIZE_PHONEME_EVENTS`), so mouth shapes and captions come from the very timing the
audio was made with, rather than from a later alignment that could drift.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import SpeechError
from avatars.engine.visemes import Viseme, viseme_for_phoneme

#: Every audio track in the engine is mono float32 at this rate (what Mp4Writer encodes).
SAMPLE_RATE = 48_000

_LIBRARY_NAME = "libespeak-ng.so.1"
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_EVENT_END = 5


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    # Mirrors espeak_EVENT in speak_lib.h (stable since espeak 1.x).
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Phoneme:
    """One spoken phoneme: espeak-ng mnemonic, its viseme and its time span in seconds."""

    start: float
    end: float
    symbol: str
    viseme: Viseme


@dataclass(frozen=True)
class Word:
    """One spoken word of the script with the time span of its phonemes."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SpeechTrack:
    """Mono float32 audio at `sample_rate` with the phoneme and word timing it was made with.

    A track from recorded narration has no phonemes or words; its mouth motion then comes from
    the audio energy alone (see `visemes.mouth_track`).
    """

    samples: NDArray[np.float32]
    sample_rate: int = SAMPLE_RATE
    phonemes: tuple[Phoneme, ...] = field(default=())
    words: tuple[Word, ...] = field(default=())

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.samples) / self.sample_rate


class _Espeak:
    """The process-wide espeak-ng instance; the C library keeps global state, so calls are serialized."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL(_LIBRARY_NAME)
        except OSError as exc:
            raise SpeechError(
                "Offline speech synthesis is not installed on this server (espeak-ng library "
                f"{_LIBRARY_NAME} missing); ask an administrator to install the espeak-ng package.",
                code="tts_unavailable",
            ) from exc
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.native_rate = int(
            self.lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
            )
        )
        if self.native_rate <= 0:
            raise SpeechError("Offline speech synthesis failed to start (espeak-ng data missing).")
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        # The CFUNCTYPE object must outlive every synthesis call, or the C side calls freed memory.
        self._callback = _Callback(self._on_audio)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            symbol = bytes(event.id.string).split(b"\0", 1)[0] if event.type == _EVENT_PHONEME else b""
            self._events.append((event.type, event.text_position, event.length, event.sample, symbol))
            index += 1
        return 0

    def synthesize(
        self, text: str, language: str, words_per_minute: int
    ) -> tuple[NDArray[np.int16], list[tuple[int, int, int, int, bytes]]]:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(language.encode("ascii", "replace")) != 0:
                raise SpeechError(
                    f"No offline voice for language '{language}'. Choose a language the clinic's "
                    "speech synthesizer supports (for example en, es, fr, de), or upload recorded narration.",
                    code="language_unsupported",
                )
            self.lib.espeak_SetParameter(_PARAM_RATE, int(words_per_minute), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            buffer = ctypes.create_string_buffer(data)
            status = self.lib.espeak_Synth(
                buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self.lib.espeak_Synchronize()
            if status != 0:
                raise SpeechError(f"Speech synthesis failed (espeak-ng status {status}).")
            pcm = np.frombuffer(b"".join(self._chunks), dtype=np.int16).copy()
            return pcm, list(self._events)


_instance: _Espeak | None = None
_instance_lock = threading.Lock()


def _espeak() -> _Espeak:
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = _Espeak()
        return _instance


def resample(samples: NDArray[np.float32], source_rate: int, target_rate: int) -> NDArray[np.float32]:
    """Resample mono audio by linear interpolation.

    Good enough for speech going up to 48 kHz (no content above the source Nyquist to alias);
    it keeps the engine free of a SciPy dependency. Works in blocks of 65,536 output samples, so a
    ten-minute script needs no float64 temporaries the size of the whole track.
    """
    if source_rate == target_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    count = int(round(len(samples) * target_rate / source_rate))
    output = np.empty(count, dtype=np.float32)
    step = source_rate / target_rate
    block = 1 << 16
    for first in range(0, count, block):
        positions = np.arange(first, min(first + block, count), dtype=np.float64) * step
        left = np.minimum(positions.astype(np.int64), len(samples) - 1)
        right = np.minimum(left + 1, len(samples) - 1)
        fraction = (positions - left).astype(np.float32)
        output[first : first + len(positions)] = samples[left] * (1 - fraction) + samples[right] * fraction
    return output


def synthesize(text: str, *, language: str = "en", words_per_minute: int = 150) -> SpeechTrack:
    """Speak `text` offline and return the audio with its phoneme and word timing.

    Raises `SpeechError` for empty text, an unsupported language or a synthesis that produced
    no sound.
    """
    if not text.strip():
        raise SpeechError(
            "The script is empty; write the text the clinician should say.", code="script_empty"
        )
    if not 80 <= words_per_minute <= 450:
        raise SpeechError(
            f"Speaking rate must be between 80 and 450 words per minute, got {words_per_minute}."
        )
    engine = _espeak()
    pcm, events = engine.synthesize(text, language, words_per_minute)
    if len(pcm) == 0 or not np.any(pcm):
        raise SpeechError("Speech synthesis produced no sound for this script; check that it contains words.")
    native = engine.native_rate
    samples = resample(pcm.astype(np.float32) / 32768.0, native, SAMPLE_RATE)
    duration = len(samples) / SAMPLE_RATE
    phonemes = _phonemes_from_events(events, native, duration)
    words = _words_from_events(events, text, phonemes, native)
    return SpeechTrack(samples=samples, phonemes=phonemes, words=words)


def _phonemes_from_events(
    events: Sequence[tuple[int, int, int, int, bytes]], native_rate: int, duration: float
) -> tuple[Phoneme, ...]:
    starts = [
        (sample / native_rate, symbol.decode("ascii", "replace"))
        for kind, _, _, sample, symbol in events
        if kind == _EVENT_PHONEME
    ]
    phonemes: list[Phoneme] = []
    for index, (start, symbol) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else duration
        if end > start:
            phonemes.append(
                Phoneme(start=start, end=min(end, duration), symbol=symbol, viseme=viseme_for_phoneme(symbol))
            )
    return tuple(phonemes)


def _words_from_events(
    events: Sequence[tuple[int, int, int, int, bytes]],
    text: str,
    phonemes: Sequence[Phoneme],
    native_rate: int,
) -> tuple[Word, ...]:
    # espeak-ng reports 1-based character offsets into the input. It sometimes speaks several
    # written words as one ("I am", "a computer-generated"), so each event owns the text up to the
    # next event: no written word is lost from the captions, and punctuation stays attached.
    # It also reports empty "words" at some clause boundaries, pointing back into the text; those
    # are dropped so that text positions only move forward.
    marks: list[tuple[float, int]] = []
    for kind, position, length, sample, _ in events:
        if kind == _EVENT_WORD and length > 0 and (not marks or position - 1 > marks[-1][1]):
            marks.append((sample / native_rate, position - 1))
    words: list[Word] = []
    for index, (start, offset) in enumerate(marks):
        following = marks[index + 1] if index + 1 < len(marks) else (float("inf"), len(text))
        if index == 0:
            offset = 0
        spoken = [
            p for p in phonemes if start - 1e-6 <= p.start < following[0] and p.viseme is not Viseme.REST
        ]
        word_text = " ".join(text[offset : following[1]].split())
        if not word_text:
            continue
        if not spoken:
            if words:
                last = words[-1]
                words[-1] = Word(start=last.start, end=last.end, text=f"{last.text} {word_text}")
            continue
        words.append(Word(start=spoken[0].start, end=spoken[-1].end, text=word_text))
    return tuple(words)


def silence(seconds: float) -> SpeechTrack:
    """A silent track of the given length (pauses between disclaimer and script)."""
    return SpeechTrack(samples=np.zeros(int(round(seconds * SAMPLE_RATE)), dtype=np.float32))


def concatenate(tracks: Sequence[SpeechTrack]) -> SpeechTrack:
    """Join tracks end to end, shifting each one's phoneme and word times."""
    offset = 0.0
    phonemes: list[Phoneme] = []
    words: list[Word] = []
    for track in tracks:
        if track.sample_rate != SAMPLE_RATE:
            raise SpeechError("All speech tracks must share the engine's sample rate.")
        phonemes.extend(Phoneme(p.start + offset, p.end + offset, p.symbol, p.viseme) for p in track.phonemes)
        words.extend(Word(w.start + offset, w.end + offset, w.text) for w in track.words)
        offset += track.duration
    samples = np.concatenate([t.samples for t in tracks]) if tracks else np.zeros(0, dtype=np.float32)
    return SpeechTrack(
        samples=samples.astype(np.float32, copy=False), phonemes=tuple(phonemes), words=tuple(words)
    )


#: Energy is taken over two frame lengths centred on each frame: one frame (40 ms) is noisier,
#: and on the GRID clips the two-frame window separates own speech from other speech best.
ENERGY_WINDOW_FRAMES = 2.0

def speech_energy(samples: NDArray[np.float32], fps: float, frame_count: int) -> NDArray[np.float64]:
    """RMS energy of 48 kHz mono speech in a window centred on each video frame."""
    hop = SAMPLE_RATE / fps
    half = ENERGY_WINDOW_FRAMES * hop / 2
    energy = np.zeros(frame_count, dtype=np.float64)
    for index in range(frame_count):
        centre = (index + 0.5) * hop
        chunk = samples[max(0, int(centre - half)) : int(centre + half)]
        if len(chunk):
            energy[index] = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
    return energy
