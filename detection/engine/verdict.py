"""The six verdicts of SPEC §3.6, from the analyzers' results and what the platform knows about consent.

A pure function: the workflow decides the provenance state (only the database knows whether the
consent behind a content id is still active, see `provenance_state_from`) and passes it with the
scan's results. Identity × provenance carries the verdict; manipulation evidence only decides
between "suspected deepfake" and "origin unverified" for content that is not the platform's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from detection.engine.results import (
    IDENTITY_ANALYZERS,
    MANIPULATION_ANALYZERS,
    Analyzer,
    AnalyzerResult,
    Evidence,
    SubjectMatch,
)


class ProvenanceState(StrEnum):
    """What the platform's records say about the file's provenance."""

    CONSENT_ACTIVE = "consent_active"  # platform content whose consent is still active
    CONSENT_WITHDRAWN = "consent_withdrawn"  # platform content whose consent was revoked or ended
    TAMPERED = "tampered"  # a platform manifest is present but the file or manifest was altered
    NONE = "none"  # no platform provenance


class VerdictKind(StrEnum):
    """SPEC §3.6's verdicts (the deepfake one is completed with the clinician's name)."""

    AUTHORIZED = "authorized"
    CONSENT_WITHDRAWN = "consent withdrawn"
    PROVENANCE_TAMPERED = "provenance tampered"
    SUSPECTED_DEEPFAKE = "suspected unauthorized deepfake"
    CLINICIAN_UNVERIFIED = "clinician depicted, origin unverified"
    NO_CLINICIAN = "no enrolled clinician found"


TITLES: dict[str, str] = {
    Analyzer.PROVENANCE.value: "Provenance (C2PA signature, watermark, fingerprint)",
    Analyzer.FACE_IDENTITY.value: "Face identity",
    Analyzer.VOICE_IDENTITY.value: "Voice identity",
    Analyzer.VISUAL_MANIPULATION.value: "Visual manipulation (face-blending detector)",
    Analyzer.LIP_SYNC.value: "Lip-sync consistency",
    Analyzer.IDENTITY_DRIFT.value: "Identity drift across frames",
    Analyzer.BLENDING_FLICKER.value: "Blending flicker",
    Analyzer.SYNTHETIC_SPEECH.value: "Synthetic speech",
}


@dataclass(frozen=True)
class Verdict:
    """A verdict with who it concerns, why, and the evidence behind it.

    `explanation` is plain language, one line per point: the reason first, then every analyzer's
    score with its measured accuracy and limits.
    """

    kind: VerdictKind
    headline: str
    subject: SubjectMatch | None
    explanation: tuple[str, ...]
    manipulation_flags: tuple[str, ...]
    evidence: tuple[Evidence, ...]


def provenance_state_from(result: AnalyzerResult | None, *, consent_active: bool | None) -> ProvenanceState:
    """Map the provenance analyzer's finding and the consent's status to a `ProvenanceState`.

    `consent_active` is None when the platform has no consent for the content (the content id or
    fingerprint is not the clinic's): that is no platform provenance.
    """
    if result is None or result.skipped:
        return ProvenanceState.NONE
    finding = str(result.details.get("finding", "none"))
    if finding == "altered":
        return ProvenanceState.TAMPERED
    if finding in ("signed", "watermark", "fingerprint") and consent_active is not None:
        return ProvenanceState.CONSENT_ACTIVE if consent_active else ProvenanceState.CONSENT_WITHDRAWN
    return ProvenanceState.NONE


def _identified(results: Sequence[AnalyzerResult]) -> SubjectMatch | None:
    # The face decides who is depicted when it names someone; a voice alone can also name a
    # clinician (an audio clip, or a video whose face is not theirs).
    for name in (Analyzer.FACE_IDENTITY, Analyzer.VOICE_IDENTITY):
        result = next((r for r in results if r.name == name), None)
        if result is not None and result.flagged and result.best_subject is not None:
            return result.best_subject
    return None


def _line(result: AnalyzerResult) -> str:
    title = TITLES.get(result.name, result.name)
    if result.skipped:
        return f"{title}: not measured ({result.skipped})"
    state = "positive" if result.flagged else "negative"
    line = f"{title}: score {result.score:.2f} against a threshold of {result.threshold:.2f} ({state})."
    if result.accuracy is not None:
        line += f" Measured accuracy: {result.accuracy.summary}"
        if result.accuracy.limits:
            line += f" Limits: {result.accuracy.limits}"
    else:
        line += " Its accuracy has not been measured."
    return line


def verdict_from(results: Sequence[AnalyzerResult], provenance_state: ProvenanceState) -> Verdict:
    """The verdict for one scanned file (see SPEC §3.6)."""
    subject = _identified(results)
    flags = tuple(r.name for r in results if r.name in MANIPULATION_ANALYZERS and r.flagged)
    who = subject.label if subject is not None else ""
    if provenance_state is ProvenanceState.TAMPERED:
        kind, headline = VerdictKind.PROVENANCE_TAMPERED, "provenance tampered"
        reason = "The file carries the platform's signature, but the file or its manifest was changed after signing."
    elif provenance_state is ProvenanceState.CONSENT_WITHDRAWN:
        kind, headline = VerdictKind.CONSENT_WITHDRAWN, "consent withdrawn"
        reason = "This is the platform's own content, but the consent it was made under is no longer active."
    elif provenance_state is ProvenanceState.CONSENT_ACTIVE:
        kind, headline = VerdictKind.AUTHORIZED, "authorized"
        reason = "This is the platform's own content and the consent it was made under is active."
    elif subject is None:
        kind, headline = VerdictKind.NO_CLINICIAN, "no enrolled clinician found"
        reason = (
            "No enrolled clinician's face or voice was recognised, and the file has no platform provenance."
        )
    elif flags:
        kind, headline = VerdictKind.SUSPECTED_DEEPFAKE, f"suspected unauthorized deepfake of {who}"
        names = ", ".join(TITLES.get(f, f).lower() for f in flags)
        reason = (
            f"{who} appears to be depicted, the file has no platform provenance, and there is manipulation "
            f"evidence ({names})."
        )
    else:
        kind, headline = VerdictKind.CLINICIAN_UNVERIFIED, "clinician depicted, origin unverified"
        reason = (
            f"{who} appears to be depicted and the file has no platform provenance, but no analyzer found "
            "manipulation evidence. It may be genuine footage from elsewhere; absence of evidence is not "
            "proof of authenticity."
        )
    relevant = [
        r for r in results if r.name in IDENTITY_ANALYZERS or r.name in flags or r.name == Analyzer.PROVENANCE
    ]
    evidence = tuple(
        e
        for r in relevant
        for e in r.evidence
        if not e.subject_id or subject is None or e.subject_id == subject.subject_id
    )
    return Verdict(
        kind=kind,
        headline=headline,
        subject=subject if kind is not VerdictKind.NO_CLINICIAN else None,
        explanation=(reason, *(_line(r) for r in results)),
        manipulation_flags=flags,
        evidence=evidence,
    )
