"""Who is depicted and who is speaking: faces and voices matched against enrolled clinicians.

Faces: 128-d dlib embeddings (`faces.embed`), compared with each person's enrolled templates by
Euclidean distance (nearest template). Voices: resemblyzer speaker embeddings of 1.6 s windows,
compared with each person's enrolled voice by cosine similarity.

Distance → score. Neither mapping is fitted to the evaluation data (too few people to fit and
test on the same set); both are logistic curves centred on a threshold justified elsewhere, so
`calibrated` is False and the measured accuracy (`accuracy.json`) says how they do:

* faces: centre 0.55 (dlib's own 0.6 is its LFW operating point; the consent statement check
  found different GRID speakers 0.59 apart, so the product's face match sits a little stricter),
  width 0.04: distance 0.47 → 0.88, 0.55 → 0.5, 0.63 → 0.12;
* voices: centre 0.78 cosine (the consent statement check's threshold from LibriSpeech: same
  speaker 0.805-0.97, other speakers at most 0.753), width 0.025.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media.loaders.resemblyzer_voice import is_silent, voice_encoder
from detection.engine.faces import Face, embed
from detection.engine.media import AUDIO_RATE
from detection.engine.results import (
    Analyzer,
    AnalyzerResult,
    Evidence,
    SubjectMatch,
    logistic,
    merge_times,
)
from detection.engine.specs import EnrolledPerson
from detection.engine.threads import inference_threads

FACE_CENTRE = 0.55
FACE_WIDTH = 0.04
VOICE_CENTRE = 0.78
VOICE_WIDTH = 0.025
#: resemblyzer's window (1.6 s); windows start every `VOICE_STEP` seconds.
VOICE_WINDOW = 1.6
VOICE_STEP = 1.0
#: A window quieter than this (RMS after volume normalisation) holds no speech worth embedding.
VOICE_MIN_RMS = 0.01


def face_score(distance: float) -> float:
    """Score in [0, 1] that a face at this embedding distance is the enrolled person."""
    return logistic((FACE_CENTRE - distance) / FACE_WIDTH)


def voice_score(similarity: float) -> float:
    """Score in [0, 1] that a voice at this cosine similarity is the enrolled speaker."""
    return logistic((similarity - VOICE_CENTRE) / VOICE_WIDTH)


def _templates(
    people: Sequence[EnrolledPerson], attribute: str, width: int
) -> list[tuple[EnrolledPerson, NDArray[np.float64]]]:
    found = []
    for person in people:
        rows = list(getattr(person, attribute))
        if rows:
            matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
            if matrix.shape[1] == width:
                found.append((person, matrix))
    return found


def face_distances(
    embedding: NDArray[np.float64], gallery: list[tuple[EnrolledPerson, NDArray[np.float64]]]
) -> list[float]:
    """Distance of one face embedding to each person's nearest enrolled template."""
    return [float(np.linalg.norm(templates - embedding, axis=1).min()) for _, templates in gallery]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    """One face followed across sampled frames by box overlap."""

    box: tuple[int, int, int, int]
    last_time: float
    distances: list[float] | None = None  # to each gallery person, from the latest embedding
    embeddings: list[tuple[float, NDArray[np.float64]]] = field(default_factory=list)
    samples: int = 0


@dataclass
class FaceIdentityTracker:
    """Follows faces over sampled frames, embeds some of them, and finds enrolled people.

    Embeddings are costly (about 0.13 s), so only every `embed_every`-th sampled frame is
    embedded, plus the first sight of each new face; in between, a face inherits the identity of
    the track it continues (box overlap with the previous sample).
    """

    people: Sequence[EnrolledPerson]
    embed_every: int = 1
    interval: float = 0.5
    max_faces: int = 4
    tracks: list[_Track] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)
    _gallery: list[tuple[EnrolledPerson, NDArray[np.float64]]] = field(default_factory=list)
    _hits: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _samples: int = 0
    embedded: int = 0
    faces_seen: int = 0

    def __post_init__(self) -> None:
        self._gallery = _templates(self.people, "face_embeddings", 128)

    def add(self, rgb: NDArray[np.uint8], faces: list[Face], *, time: float) -> None:
        """Take one sampled frame's detected faces (largest first)."""
        scheduled = self._samples % self.embed_every == 0
        self._samples += 1
        faces = faces[: self.max_faces]
        self.faces_seen += len(faces)
        live = [t for t in self.tracks if time - t.last_time <= 2.5 * self.interval]
        best_frame_score = 0.0
        for face in faces:
            track = max(live, key=lambda t: _iou(t.box, face.box), default=None)
            if track is None or _iou(track.box, face.box) < 0.3:
                track = _Track(face.box, time)
                self.tracks.append(track)
            else:
                live.remove(track)
            track.box, track.last_time = face.box, time
            track.samples += 1
            if scheduled or track.distances is None:
                vector = embed(rgb, face)
                self.embedded += 1
                track.embeddings.append((time, vector))
                track.distances = face_distances(vector, self._gallery)
            for (person, _), distance in zip(self._gallery, track.distances, strict=True):
                self._hits.setdefault(person.subject_id, []).append((time, distance))
                best_frame_score = max(best_frame_score, face_score(distance))
        if self._gallery:
            self.timeline.append((time, best_frame_score))

    def main_track_embeddings(self) -> list[tuple[float, NDArray[np.float64]]]:
        """Embeddings over time of the face seen most often (for the identity-drift measure)."""
        main = max(self.tracks, key=lambda t: t.samples, default=None)
        return main.embeddings if main is not None else []

    def result(self) -> AnalyzerResult:
        """Which enrolled people were seen, how surely, and when."""
        from detection.engine.accuracy import accuracy_of

        accuracy = accuracy_of(Analyzer.FACE_IDENTITY)
        name = Analyzer.FACE_IDENTITY.value
        if not self._gallery:
            return AnalyzerResult(
                name, 0.0, False, 0.5, accuracy=accuracy, skipped="No enrolled face to compare with."
            )
        if not self.faces_seen:
            return AnalyzerResult(name, 0.0, False, 0.5, accuracy=accuracy, skipped="No face was found.")
        subjects: list[SubjectMatch] = []
        evidence: list[Evidence] = []
        for person, _ in self._gallery:
            hits = self._hits.get(person.subject_id, [])
            per_frame: dict[float, float] = {}
            for time, distance in hits:
                per_frame[time] = min(distance, per_frame.get(time, math.inf))
            distances = sorted(per_frame.values())
            # Two sampled frames must agree (the second-best frame's distance counts), so one
            # chance lookalike frame in a long video does not name a clinician; a photo has one.
            decisive = distances[min(1, len(distances) - 1)]
            score = face_score(decisive)
            close = [t for t, d in hits if face_score(d) >= 0.5]
            ranges = merge_times(close, gap=2.5 * self.interval, pad=self.interval / 2)
            subjects.append(
                SubjectMatch(person.subject_id, person.label, score, decisive, ranges, len(set(close)))
            )
            if score >= 0.5:
                where = ", ".join(f"{r.start:.1f}-{r.end:.1f} s" for r in ranges[:5])
                evidence.append(
                    Evidence(
                        note=f"Face matches {person.label} (distance {decisive:.2f}, score {score:.2f}) at {where}.",
                        time_range=ranges[0] if ranges else None,
                        score=score,
                        subject_id=person.subject_id,
                    )
                )
        subjects.sort(key=lambda s: s.score, reverse=True)
        return AnalyzerResult(
            name,
            subjects[0].score,
            False,
            0.5,
            evidence=tuple(evidence),
            accuracy=accuracy,
            timeline=tuple(self.timeline),
            subjects=tuple(subjects),
            details={
                "faces_seen": self.faces_seen,
                "faces_embedded": self.embedded,
                "tracks": len(self.tracks),
            },
        )


@dataclass(frozen=True)
class VoiceWindows:
    """Speaker embeddings of the speech windows of a recording (unit length), with start times."""

    starts: NDArray[np.float64]
    embeddings: NDArray[np.float64]

    @property
    def utterance(self) -> NDArray[np.float64] | None:
        """The whole recording's embedding (mean of the windows, unit length), or None if silent."""
        if not len(self.embeddings):
            return None
        mean = self.embeddings.mean(axis=0)
        return np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float64)


def voice_windows(samples: NDArray[np.float32]) -> VoiceWindows:
    """Embed every `VOICE_STEP` seconds a `VOICE_WINDOW` of speech (silent windows skipped).

    Silences are not cut out first (as resemblyzer's own preprocessing would), so each window
    keeps its place in the recording's timeline.
    """
    # resemblyzer's encoder, shared with the consent statement check.
    model = voice_encoder()
    import torch

    if is_silent(samples):
        return VoiceWindows(np.zeros(0), np.zeros((0, 256)))
    wav = np.asarray(model.normalize(samples.astype(np.float32)), dtype=np.float32)
    window, step = int(VOICE_WINDOW * AUDIO_RATE), int(VOICE_STEP * AUDIO_RATE)
    starts = list(range(0, max(1, len(wav) - window + 1), step))
    chosen = []
    for start in starts:
        chunk = wav[start : start + window]
        if (
            len(chunk) >= AUDIO_RATE // 2
            and float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64)))) >= VOICE_MIN_RMS
        ):
            chosen.append(start)
    if not chosen:
        return VoiceWindows(np.zeros(0), np.zeros((0, 256)))
    from resemblyzer.audio import wav_to_mel_spectrogram

    mels = []
    for start in chosen:
        chunk = wav[start : start + window]
        if len(chunk) < window:
            chunk = np.pad(chunk, (0, window - len(chunk)))
        mels.append(wav_to_mel_spectrogram(chunk)[:160])
    frames = min(m.shape[0] for m in mels)
    stacked = np.stack([m[:frames] for m in mels])
    parts = []
    with torch.inference_mode(), inference_threads():
        # Batches of 64 windows: the LSTM's activations for an hour at once would take GBs.
        for first in range(0, len(stacked), 64):
            batch = torch.from_numpy(stacked[first : first + 64]).float().to(model.encoder.device)
            parts.append(model.encoder(batch).cpu().numpy())
    embeddings = np.concatenate(parts)
    return VoiceWindows(
        np.array(chosen, dtype=np.float64) / AUDIO_RATE, np.asarray(embeddings, dtype=np.float64)
    )


def voice_similarities(windows: VoiceWindows, template: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cosine similarity of each window to one enrolled voice."""
    unit = template / max(float(np.linalg.norm(template)), 1e-12)
    return np.asarray(windows.embeddings @ unit, dtype=np.float64)


def voice_match(windows: VoiceWindows, template: NDArray[np.float64]) -> float:
    """A recording's similarity to one enrolled voice: the mean of its best third of windows.

    The best third rather than all windows, so a clinician who speaks for a third of a
    conversation is still found; at least three windows (or all there are) count.
    """
    similarities = np.sort(voice_similarities(windows, template))[::-1]
    count = max(min(3, len(similarities)), math.ceil(len(similarities) / 3))
    return float(similarities[:count].mean())


def voice_identity(
    samples: NDArray[np.float32] | None, people: Sequence[EnrolledPerson]
) -> tuple[AnalyzerResult, VoiceWindows | None]:
    """Which enrolled voices speak in a recording (16 kHz mono), how surely, and when."""
    from detection.engine.accuracy import accuracy_of

    accuracy = accuracy_of(Analyzer.VOICE_IDENTITY)
    name = Analyzer.VOICE_IDENTITY.value
    gallery = _templates(people, "voice_embeddings", 256)
    if not gallery:
        return AnalyzerResult(
            name, 0.0, False, 0.5, accuracy=accuracy, skipped="No enrolled voice to compare with."
        ), None
    if samples is None:
        return AnalyzerResult(
            name, 0.0, False, 0.5, accuracy=accuracy, skipped="The file has no sound."
        ), None
    windows = voice_windows(samples)
    if not len(windows.embeddings):
        return AnalyzerResult(
            name, 0.0, False, 0.5, accuracy=accuracy, skipped="No speech was heard."
        ), windows
    subjects: list[SubjectMatch] = []
    evidence: list[Evidence] = []
    best_per_window = np.zeros(len(windows.starts))
    for person, templates in gallery:
        template = templates.mean(axis=0)
        similarity = voice_match(windows, template)
        per_window = voice_similarities(windows, template)
        scores = np.array([voice_score(s) for s in per_window])
        best_per_window = np.maximum(best_per_window, scores)
        close = [float(t) + VOICE_WINDOW / 2 for t, s in zip(windows.starts, scores, strict=True) if s >= 0.5]
        ranges = merge_times(close, gap=VOICE_STEP * 1.5, pad=VOICE_WINDOW / 2)
        score = voice_score(similarity)
        subjects.append(
            SubjectMatch(person.subject_id, person.label, score, 1.0 - similarity, ranges, len(close))
        )
        if score >= 0.5:
            where = ", ".join(f"{r.start:.1f}-{r.end:.1f} s" for r in ranges[:5])
            evidence.append(
                Evidence(
                    note=f"Voice matches {person.label} (similarity {similarity:.2f}, score {score:.2f}) at {where or 'several moments'}.",
                    time_range=ranges[0] if ranges else None,
                    score=score,
                    subject_id=person.subject_id,
                )
            )
    subjects.sort(key=lambda s: s.score, reverse=True)
    timeline = tuple(
        (float(t) + VOICE_WINDOW / 2, float(s)) for t, s in zip(windows.starts, best_per_window, strict=True)
    )
    result = AnalyzerResult(
        name,
        subjects[0].score,
        False,
        0.5,
        evidence=tuple(evidence),
        accuracy=accuracy,
        timeline=timeline,
        subjects=tuple(subjects),
        details={"speech_windows": len(windows.starts)},
    )
    return result, windows


def voice_template(path: Path) -> list[float]:
    """An enrollment voice embedding (256 floats) from a recording of the clinician speaking.

    The same embedding the consent statement check stores (`avatars.engine.statement`).
    """
    from avatars.engine.statement import speaker_embedding

    return [float(x) for x in speaker_embedding(path)]
