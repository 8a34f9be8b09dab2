"""Is a copy of a registered video still the same person? Faces and voice against the original.

A fingerprint match says a file *looks like* a registered video: same framing, same motion. A
face swap keeps both (only the face region changes), so on its own the match would vouch for a
deepfake of the clinician. When the registered original is at hand, this compares the people
in the two at the matched times:

* **faces**: at `sample_hz` over the suspect's first `max_seconds`, every face the suspect shows
  is embedded (dlib's 128-d recognition model) and compared with the faces of the original's
  frame at the same moment (the fingerprint's time offset applied). A face farther than
  `face_distance` from all of them, or a face where the original shows none, is a difference.
* **voice**: when both have sound with speech, the speaker embeddings (resemblyzer) of the two
  matched stretches are compared; a similarity under `voice_similarity` is a difference.

The models are the product's own (`core.media.faces` for detection and landmarks, the consent
statement check's recognition and voice encoders): nothing is loaded twice. Thresholds come from
measurements on `../shared/media` (see `LikenessThresholds`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media.errors import MediaError
from core.media.faces import detect_faces
from core.media.loaders.dlib_faces import face_encoder
from core.media.loaders.resemblyzer_voice import VOICE_SAMPLE_RATE, voice_encoder
from provenance.engine.errors import ProvenanceError
from provenance.engine.media_io import AUDIO_RATE, iter_audio, iter_timed_frames


@dataclass(frozen=True)
class LikenessThresholds:
    """When two faces or voices count as different people.

    Measured on six real talking-head clips of ../shared/media (three GRID, three retalking),
    each copied with H.264 crf 35, and halved or shrunk to 0.75 with crf 32-35 (164 compared
    moments), and with a face pasted in from three named-people photos by OpenCV's seamlessClone,
    at full size (crf 23) and halved (crf 32) (409 moments):

    * `face_distance` 0.5: a copy's face measures at most 0.41 from the original's when it is at
      least `min_face_pixels` tall, a pasted face at least 0.59 (0.64-0.98 at full size). The
      consent statement check's 0.5 (two recordings of one person: 0.11-0.24) agrees.
    * `min_face_pixels` 90: smaller faces are not compared. Halved GRID clips (faces 72 px tall)
      measured up to 0.59 without any swap, as far as a swap: too blurred to tell.
    * `voice_similarity` 0.78: the consent statement check's threshold (LibriSpeech: the same
      speaker 0.805-0.97, another at most 0.753; another GRID speaker dubbed in: 0.55).
    * `min_speech_seconds`: shorter speech gives no stable speaker embedding.
    * `min_differing_samples`: one odd moment (a blink mid-cut) is not an alteration.
    """

    face_distance: float = 0.5
    min_face_pixels: int = 90
    voice_similarity: float = 0.78
    min_speech_seconds: float = 1.0
    min_differing_samples: int = 2


@dataclass(frozen=True)
class TimeRange:
    """A stretch of the suspect file, in seconds from its start."""

    start: float
    end: float

    def label(self) -> str:
        """`0:01.5–0:03.0`: how the verify page names it."""
        return f"{_clock(self.start)}–{_clock(self.end)}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


@dataclass(frozen=True)
class LikenessComparison:
    """What the faces and the voice of a suspect copy show against the registered original."""

    faces_compared: int = 0  # samples where the suspect showed a face and it was compared
    faces_differing: int = 0
    face_ranges: tuple[TimeRange, ...] = ()  # where the faces differ (only when they do)
    largest_face_distance: float | None = None
    voice_compared: bool = False
    voice_similarity: float | None = None
    voice_ranges: tuple[TimeRange, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def differs(self) -> bool:
        """True when the people in the copy are not the ones in the original somewhere."""
        return bool(self.face_ranges or self.voice_ranges)

    @property
    def compared(self) -> bool:
        """True when anything could be compared at all."""
        return self.faces_compared > 0 or self.voice_compared


def _embed_faces(
    rgb: NDArray[np.uint8], *, thorough: bool = False, min_pixels: int = 0
) -> list[NDArray[np.float64]]:
    """Embeddings of the (at most two) largest faces of a frame at least `min_pixels` tall."""
    frame = np.ascontiguousarray(rgb)
    # The one loaded dlib recognition model (the consent statement check's too).
    encoder = face_encoder()
    faces = [
        face for face in detect_faces(frame, thorough=thorough)[:2] if face.box[3] - face.box[1] >= min_pixels
    ]
    return [encoder.embed(frame, face) for face in faces]


def _relative_frames(path: Path, start: float, seconds: float) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """Frames from `start` seconds after the first frame on, timed from the first frame."""
    first: float | None = None
    for at, rgb in iter_timed_frames(path, max_seconds=None):
        first = at if first is None else first
        moment = at - first
        if moment < start:
            continue
        if moment >= start + seconds:
            return
        yield moment, rgb


def _merge(times: list[float], step: float) -> tuple[TimeRange, ...]:
    """Sample times that differ, as ranges: each covers its sample's step; touching ones merge."""
    ranges: list[TimeRange] = []
    for moment in sorted(times):
        if ranges and moment <= ranges[-1].end + 1e-6:
            ranges[-1] = TimeRange(ranges[-1].start, moment + step)
        else:
            ranges.append(TimeRange(moment, moment + step))
    return tuple(ranges)


def _compare_faces(
    suspect: Path,
    original: Path,
    offset: float,
    max_seconds: float,
    sample_hz: float,
    thresholds: LikenessThresholds,
) -> tuple[int, list[float], float | None]:
    """(samples compared, sample times that differ, largest distance seen)."""
    import cv2

    step = 1.0 / sample_hz
    originals = _relative_frames(original, max(0.0, offset), max_seconds + step)
    pending: tuple[float, NDArray[np.uint8]] | None = None
    compared, largest = 0, None
    differing: list[float] = []
    next_sample = 0.0
    for moment, rgb in _relative_frames(suspect, 0.0, max_seconds):
        if moment + 1e-6 < next_sample:
            continue
        # Differences are reported on the sampling grid, so neighbouring samples' ranges touch.
        slot = math.floor(moment * sample_hz + 1e-6) * step
        next_sample = slot + step
        faces = _embed_faces(rgb, min_pixels=thresholds.min_face_pixels)
        if not faces:
            continue  # nothing to compare: no face, or one too small to tell people apart
        # The original's frame shown at the same moment (the first at or after it).
        target = moment + offset
        while pending is None or pending[0] + 1e-6 < target:
            pending = next(originals, None)
            if pending is None:
                return compared, differing, largest
        # Seen at the copy's size, the original loses the same detail the copy lost: a downscaled
        # copy's faces then measure against faces as small as theirs.
        seen = pending[1]
        if seen.shape[:2] != rgb.shape[:2]:
            seen = np.asarray(
                cv2.resize(seen, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA), np.uint8
            )
        reference = _embed_faces(seen) or _embed_faces(pending[1], thorough=True)
        compared += 1
        if not reference:
            differing.append(slot)  # a face the original does not show here
            continue
        distance = max(min(float(np.linalg.norm(face - ref)) for ref in reference) for face in faces)
        largest = distance if largest is None else max(largest, distance)
        if distance > thresholds.face_distance:
            differing.append(slot)
    return compared, differing, largest


def _audio(path: Path, start: float, seconds: float) -> NDArray[np.float32]:
    chunks = list(iter_audio(path, start_seconds=start, max_seconds=seconds))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _compare_voice(
    suspect: Path, original: Path, offset: float, max_seconds: float, thresholds: LikenessThresholds
) -> tuple[float, float] | None:
    """(cosine similarity of the two speakers, seconds of suspect sound compared), or None when
    either has too little speech."""
    # The same encoder the consent statement check uses (its 48 kHz input is AUDIO_RATE too).
    voices = voice_encoder()
    embeddings, heard = [], 0.0
    for path, start in ((suspect, 0.0), (original, max(0.0, offset))):
        samples = _audio(path, start, max_seconds)
        heard = heard or samples.shape[0] / AUDIO_RATE
        speech = voices.speech(samples)
        if len(speech) < thresholds.min_speech_seconds * VOICE_SAMPLE_RATE:
            return None
        embeddings.append(voices.embed(speech))
    return float(np.dot(embeddings[0], embeddings[1])), heard


def compare_likeness(
    suspect: str | Path,
    original: str | Path,
    *,
    offset_seconds: float = 0.0,
    max_seconds: float = 8.0,
    sample_hz: float = 2.0,
    thresholds: LikenessThresholds | None = None,
) -> LikenessComparison:
    """Compare the people in `suspect` with those in `original`, `offset_seconds` further on.

    `offset_seconds` is where the suspect's first frame sits in the original (the fingerprint
    match's offset). Reads at most `max_seconds` of the suspect. Never raises for media it cannot
    read: what could not be compared is simply not counted.
    """
    import av

    limits = thresholds or LikenessThresholds()
    suspect_path, original_path = Path(suspect), Path(original)
    notes: list[str] = []
    unreadable = (MediaError, ProvenanceError, OSError, av.FFmpegError)
    try:
        compared, differing, largest = _compare_faces(
            suspect_path, original_path, offset_seconds, max_seconds, sample_hz, limits
        )
    except unreadable as exc:
        compared, differing, largest = 0, [], None
        notes.append(f"faces not compared: {exc}")
    if len(differing) < min(limits.min_differing_samples, compared):
        differing = []
    voice: tuple[float, float] | None = None
    try:
        voice = _compare_voice(suspect_path, original_path, offset_seconds, max_seconds, limits)
    except unreadable as exc:
        notes.append(f"voice not compared: {exc}")
    voice_ranges: tuple[TimeRange, ...] = ()
    if voice is not None and voice[0] < limits.voice_similarity:
        voice_ranges = (TimeRange(0.0, voice[1]),)
    return LikenessComparison(
        faces_compared=compared,
        faces_differing=len(differing),
        face_ranges=_merge(differing, 1.0 / sample_hz),
        largest_face_distance=largest,
        voice_compared=voice is not None,
        voice_similarity=voice[0] if voice is not None else None,
        voice_ranges=voice_ranges,
        notes=tuple(notes),
    )
