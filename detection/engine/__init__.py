"""Candor's impersonation-scanner engine: framework-free analyzers (no Django, Celery or Channels).

Dataclass specs in, results out, progress through a `progress(fraction, stage)` callback, and only
`DetectionError` subclasses (an `EngineError`) raised::

    from detection.engine import EnrolledPerson, ProvenanceContext, ScanSpec, scan, verdict_from

    result = scan(ScanSpec(path=upload, gallery=(EnrolledPerson("c-1", "Dr. Rivera", face_embeddings=...),),
                           provenance=ProvenanceContext(trust_anchors_pem=..., watermark_key=...)))
    verdict = verdict_from(result.results, provenance_state_from(result.result("provenance"), consent_active=...))

Every `AnalyzerResult` carries a score in [0, 1], its threshold, evidence (time ranges, frames,
heatmaps) and the analyzer's measured accuracy on named data (`accuracy.json`, written by
`bench/detection_accuracy.py`). Heavy libraries (torch, dlib, OpenCV, PyAV, librosa) load only
when an analyzer first runs.
"""

from detection.engine.accuracy import accuracy_of, all_accuracies
from detection.engine.errors import AnalyzerUnavailable, DetectionError, DetectionInputError, ScanCancelled
from detection.engine.faces import face_templates
from detection.engine.identity import voice_template
from detection.engine.results import (
    IDENTITY_ANALYZERS,
    MANIPULATION_ANALYZERS,
    Accuracy,
    Analyzer,
    AnalyzerResult,
    Evidence,
    Progress,
    ScanResult,
    SubjectMatch,
    TimeRange,
)
from detection.engine.scan import scan
from detection.engine.specs import (
    ALL_ANALYZERS,
    EnrolledPerson,
    FingerprintLookup,
    ProvenanceContext,
    ScanSpec,
)
from detection.engine.verdict import (
    ProvenanceState,
    Verdict,
    VerdictKind,
    provenance_state_from,
    verdict_from,
)

__all__ = [
    "ALL_ANALYZERS",
    "IDENTITY_ANALYZERS",
    "MANIPULATION_ANALYZERS",
    "Accuracy",
    "Analyzer",
    "AnalyzerResult",
    "AnalyzerUnavailable",
    "DetectionError",
    "DetectionInputError",
    "EnrolledPerson",
    "Evidence",
    "FingerprintLookup",
    "Progress",
    "ProvenanceContext",
    "ProvenanceState",
    "ScanCancelled",
    "ScanResult",
    "ScanSpec",
    "SubjectMatch",
    "TimeRange",
    "Verdict",
    "VerdictKind",
    "accuracy_of",
    "all_accuracies",
    "face_templates",
    "provenance_state_from",
    "scan",
    "verdict_from",
    "voice_template",
]
