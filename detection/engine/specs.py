"""What a scan is asked to do: the file, the clinic's enrolled people, and the provenance keys.

Plain frozen dataclasses with paths, primitives and one optional callable, so the Celery task can
build them from database rows (decrypted templates, the clinic's trust bundle, a lookup into the
fingerprint index) and the engine never needs to know about Django.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from detection.engine.results import Analyzer
from provenance.engine.fingerprint import FingerprintMatch, VideoFingerprint

#: `fingerprint_lookup(query)` returns the registered video a query fingerprint is a copy of, or
#: None. The index lives on the Django side (it is per platform and persisted there).
FingerprintLookup = Callable[[VideoFingerprint], "FingerprintMatch | None"]


@dataclass(frozen=True)
class EnrolledPerson:
    """One enrolled clinician: an id, a name for messages, and biometric templates.

    `face_embeddings` are 128-d dlib embeddings (several photos or frames); `voice_embeddings` are
    256-d resemblyzer embeddings. Either may be empty: that person is then not looked for by that
    analyzer. Build them with `face_templates` / `voice_template`.
    """

    subject_id: str
    label: str
    face_embeddings: Sequence[Sequence[float]] = ()
    voice_embeddings: Sequence[Sequence[float]] = ()


@dataclass(frozen=True)
class ProvenanceContext:
    """What the provenance analyzer needs: the platform's trust anchors and watermark key."""

    trust_anchors_pem: str
    watermark_key: bytes
    fingerprint_lookup: FingerprintLookup | None = None


ALL_ANALYZERS: frozenset[str] = frozenset(a.value for a in Analyzer)


@dataclass(frozen=True)
class ScanSpec:
    """One file to scan and how.

    * `analyzers`: the names to run (default all); those that do not apply to the media kind
      (lip-sync on an image, face identity on audio) are left out of the result.
    * `sample_fps`: frames per second that get face detection and the manipulation model; every
      frame still feeds the lip-sync and flicker measures.
    * `max_face_embeddings`: identity embeddings (about 0.13 s each) are spread evenly over the
      video up to this many, at most one per `1 / sample_fps` seconds per face.
    * `max_seconds`: only this much of a long file is analysed (None: all of it).
    * `evidence_frames`: how many most-suspicious frames get a heatmap picture.
    """

    path: Path
    analyzers: frozenset[str] = ALL_ANALYZERS
    gallery: tuple[EnrolledPerson, ...] = ()
    provenance: ProvenanceContext | None = None
    sample_fps: float = 2.0
    max_face_embeddings: int = 40
    max_seconds: float | None = None
    evidence_frames: int = 3
    max_faces_per_frame: int = 4
