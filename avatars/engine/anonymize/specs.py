"""What an anonymization run is asked to do, and what it measured (specs in, results out).

Plain frozen dataclasses with paths, numbers and numpy vectors, so the task that runs the engine
can build them from database rows and the engine never needs to know about Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.voice import VoiceReport

#: `progress(fraction, stage)`: fraction in [0, 1]; stage one of "voice", "faces", "finishing".
#: It may raise `AnonymizeCancelled` (or any exception) to stop the run; the partial output is
#: deleted and the exception propagates.
Progress = Callable[[float, str], None]

Mode = Literal["synthetic", "mask", "blur"]

#: dlib's usual same-person threshold is 0.6; keeping a face is the risky direction, so the bar for
#: "this is the enrolled clinician" is stricter.
FACE_KEEP_DISTANCE = 0.5
#: resemblyzer cosine similarity of a 1.6 s window to the enrolled clinician voice above which the
#: window counts as the clinician (calibrated on LibriSpeech; see BENCHMARKS.md).
VOICE_KEEP_SIMILARITY = 0.75


@dataclass(frozen=True)
class RedactionBox:
    """A rectangle to fill solid, as fractions of the frame (x0, y0, x1, y1), from `start` to
    `end` seconds (`end` None: to the end of the video)."""

    box: tuple[float, float, float, float]
    start: float = 0.0
    end: float | None = None

    def active(self, time: float) -> bool:
        return time >= self.start and (self.end is None or time <= self.end)


@dataclass(frozen=True, eq=False)
class AnonymizeSpec:
    """One video to anonymize.

    `keep_faces`: 128-d dlib embeddings of faces that stay as recorded (the consenting clinician's
    enrolled face, faces the user marked); every other face is replaced. `keep_voice`: the
    clinician's 256-d resemblyzer embedding, or None to anonymize all speech. `seed` makes a run
    repeatable (a worker that restarts produces the same file); it also fixes the secret voice
    coefficient, so it must never be shown to anyone. None draws a fresh one.
    """

    input: Path
    output: Path
    mode: Mode = "synthetic"
    keep_faces: tuple[NDArray[np.float64], ...] = ()
    keep_voice: NDArray[np.float64] | None = None
    redactions: tuple[RedactionBox, ...] = ()
    seed: int | None = None
    face_keep_distance: float = FACE_KEEP_DISTANCE
    voice_keep_similarity: float = VOICE_KEEP_SIMILARITY
    #: How often (seconds of video) the independent dlib check looks at an output frame; 0 turns
    #: it off. Every checked frame costs about 30 ms at 720p.
    check_interval: float = 1.0
    #: How often (seconds) a face is identified again while it is kept (it might not be the same
    #: person after a crossing); other faces are sampled every second interval, a few times.
    identity_interval: float = 1.0
    #: A visible label burned into the top-left of every output frame (e.g. "Anonymized video"), after
    #: the independent check; empty for none.
    label: str = ""


@dataclass(frozen=True)
class TrackReport:
    """One face followed through the video.

    Frames: `seen` where a detector or the mesh saw the face, `filled` where the track covered
    it from its neighbours (gaps, just before its first and after its last sighting).
    `keep_distances`: (smallest, largest) dlib distance of its sampled frames to the nearest kept
    face; None when nothing was enrolled or no frame could be sampled (dlib found no frontal face).
    `output_distance`: the smallest dlib distance between an original face of this track and the
    output embedded at that face's own landmarks on the same frame (None if never sampled);
    above 0.6 means dlib sees someone else there.
    """

    track_id: int
    first_frame: int
    last_frame: int
    seen_frames: int
    filled_frames: int
    kept_frames: int
    replaced_frames: int
    identity_samples: int
    keep_distances: tuple[float, float] | None
    output_checks: int
    output_distance: float | None


@dataclass(frozen=True)
class ResidualFace:
    """A face the independent check (dlib) found in an output frame, outside every kept face.

    `kind`: "untracked" (no track covered it: a face the engine missed), "same_person" (it is at a
    replaced face and still matches the original person, distance < 0.6), or "synthetic" (it is at
    a replaced face and is the drawn face, not the person; counted, not a leak).
    """

    frame: int
    time: float
    box: tuple[int, int, int, int]
    kind: str
    distance: float | None = None


@dataclass(frozen=True)
class AnonymizeResult:
    """What was written and what the engine measured about it (the residual-risk figures)."""

    output: Path
    mode: Mode
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    tracks: tuple[TrackReport, ...]
    checked_frames: int
    residual_faces: tuple[ResidualFace, ...]
    redacted_frames: int
    voice: VoiceReport
    seconds: float
    not_handled: tuple[str, ...] = field(default_factory=tuple)

    @property
    def leaks(self) -> tuple[ResidualFace, ...]:
        """Residual faces that are a real person's face: every kind except the drawn face."""
        return tuple(face for face in self.residual_faces if face.kind != "synthetic")
