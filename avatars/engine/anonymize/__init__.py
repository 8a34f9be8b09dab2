"""Patient anonymization: faces replaced, the clinician kept, the patient's voice changed, measured.

Framework-free (no Django, Celery or Channels imports), like the rest of `avatars.engine`: a
dataclass spec in, a result with the residual-risk measurements out, progress through a
`progress(fraction, stage)` callback, and only `AnonymizeError` (an `EngineError`) raised::

    from avatars.engine.anonymize import AnonymizeSpec, anonymize

    result = anonymize(AnonymizeSpec(input=upload, output=scratch / "anonymized.mp4", mode="synthetic",
                                     keep_faces=(clinician_face,), keep_voice=clinician_voice))
    result.leaks            # faces the independent check still found (should be empty)
    result.tracks           # per face: frames kept or replaced, identity distances
    result.voice            # seconds kept / anonymized, speaker similarity to the original
"""

from avatars.engine.anonymize.errors import AnonymizeCancelled, AnonymizeError
from avatars.engine.anonymize.pipeline import NOT_HANDLED, anonymize
from avatars.engine.anonymize.specs import (
    FACE_KEEP_DISTANCE,
    VOICE_KEEP_SIMILARITY,
    AnonymizeResult,
    AnonymizeSpec,
    Mode,
    Progress,
    RedactionBox,
    ResidualFace,
    TrackReport,
)
from avatars.engine.anonymize.voice import VoiceReport

__all__ = [
    "FACE_KEEP_DISTANCE",
    "NOT_HANDLED",
    "VOICE_KEEP_SIMILARITY",
    "AnonymizeCancelled",
    "AnonymizeError",
    "AnonymizeResult",
    "AnonymizeSpec",
    "Mode",
    "Progress",
    "RedactionBox",
    "ResidualFace",
    "TrackReport",
    "VoiceReport",
    "anonymize",
]
