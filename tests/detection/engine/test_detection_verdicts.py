"""The six SPEC §3.6 verdicts follow from identity, provenance and manipulation evidence."""

from __future__ import annotations

import pytest

from detection.engine import (
    Accuracy,
    Analyzer,
    AnalyzerResult,
    Evidence,
    ProvenanceState,
    SubjectMatch,
    TimeRange,
    VerdictKind,
    provenance_state_from,
    verdict_from,
)

RIVERA = SubjectMatch("c-1", "Dr. Rivera", 0.97, 0.31, (TimeRange(0.0, 4.0),), 8)


def identity(score: float, *, name: str = Analyzer.FACE_IDENTITY) -> AnalyzerResult:
    subject = SubjectMatch("c-1", "Dr. Rivera", score, 0.3, (TimeRange(0.0, 4.0),), 8)
    return AnalyzerResult(
        name,
        score,
        False,
        0.5,
        subjects=(subject,),
        evidence=(Evidence("Face matches Dr. Rivera.", subject_id="c-1"),),
        accuracy=Accuracy(
            name, "TAR 100% at FAR 0 on faces/.", {"tar": 1.0}, "faces/", "bench", "few people"
        ),
    )


def manipulation(
    score: float, *, name: str = Analyzer.VISUAL_MANIPULATION, skipped: str = ""
) -> AnalyzerResult:
    return AnalyzerResult(
        name, score, True, 0.6, evidence=(Evidence("Blending edge.", score=score),), skipped=skipped
    )


def provenance(finding: str) -> AnalyzerResult:
    return AnalyzerResult(
        Analyzer.PROVENANCE, 1.0 if finding != "none" else 0.0, False, 0.5, details={"finding": finding}
    )


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (ProvenanceState.CONSENT_ACTIVE, VerdictKind.AUTHORIZED),
        (ProvenanceState.CONSENT_WITHDRAWN, VerdictKind.CONSENT_WITHDRAWN),
        (ProvenanceState.TAMPERED, VerdictKind.PROVENANCE_TAMPERED),
    ],
)
def test_platform_provenance_decides_whatever_the_manipulation_detectors_say(
    state: ProvenanceState, kind: VerdictKind
) -> None:
    # A platform render is synthetic by design, so the forgery detector flags it; provenance wins.
    verdict = verdict_from([identity(0.98), manipulation(0.9)], state)

    assert verdict.kind is kind


def test_a_matched_clinician_with_manipulation_evidence_and_no_provenance_is_a_suspected_deepfake_of_them() -> (
    None
):
    verdict = verdict_from([provenance("none"), identity(0.98), manipulation(0.9)], ProvenanceState.NONE)

    assert verdict.kind is VerdictKind.SUSPECTED_DEEPFAKE
    assert verdict.headline == "suspected unauthorized deepfake of Dr. Rivera"
    assert verdict.subject is not None and verdict.subject.subject_id == "c-1"
    assert verdict.manipulation_flags == (Analyzer.VISUAL_MANIPULATION,)


def test_a_matched_clinician_without_manipulation_evidence_is_depicted_with_origin_unverified() -> None:
    verdict = verdict_from([provenance("none"), identity(0.98), manipulation(0.2)], ProvenanceState.NONE)

    assert verdict.kind is VerdictKind.CLINICIAN_UNVERIFIED
    assert "absence of evidence is not proof" in verdict.explanation[0]


def test_no_enrolled_clinician_is_found_when_no_face_or_voice_matches() -> None:
    verdict = verdict_from([provenance("none"), identity(0.1), manipulation(0.9)], ProvenanceState.NONE)

    assert verdict.kind is VerdictKind.NO_CLINICIAN
    assert verdict.subject is None


def test_a_voice_alone_can_name_the_clinician_of_an_audio_deepfake() -> None:
    results = [
        identity(0.97, name=Analyzer.VOICE_IDENTITY),
        manipulation(0.95, name=Analyzer.SYNTHETIC_SPEECH),
    ]

    verdict = verdict_from(results, ProvenanceState.NONE)

    assert verdict.kind is VerdictKind.SUSPECTED_DEEPFAKE
    assert verdict.subject is not None and verdict.subject.label == "Dr. Rivera"


def test_an_analyzer_that_could_not_measure_is_no_manipulation_evidence() -> None:
    verdict = verdict_from(
        [identity(0.98), manipulation(0.9, skipped="No face was found.")], ProvenanceState.NONE
    )

    assert verdict.kind is VerdictKind.CLINICIAN_UNVERIFIED
    assert any("not measured (No face was found.)" in line for line in verdict.explanation)


def test_the_explanation_names_each_analyzers_measured_accuracy_and_limits() -> None:
    verdict = verdict_from([identity(0.98), manipulation(0.2)], ProvenanceState.NONE)

    face_line = next(line for line in verdict.explanation if line.startswith("Face identity"))
    assert "TAR 100% at FAR 0 on faces/." in face_line and "Limits: few people" in face_line
    assert any("accuracy has not been measured" in line for line in verdict.explanation)


@pytest.mark.parametrize(
    ("finding", "consent_active", "state"),
    [
        ("signed", True, ProvenanceState.CONSENT_ACTIVE),
        ("watermark", False, ProvenanceState.CONSENT_WITHDRAWN),
        ("fingerprint", True, ProvenanceState.CONSENT_ACTIVE),
        ("altered", True, ProvenanceState.TAMPERED),
        ("watermark", None, ProvenanceState.NONE),
        ("none", None, ProvenanceState.NONE),
    ],
)
def test_provenance_findings_and_consent_status_map_to_a_state(
    finding: str, consent_active: bool | None, state: ProvenanceState
) -> None:
    assert provenance_state_from(provenance(finding), consent_active=consent_active) is state


def test_a_skipped_provenance_check_is_no_provenance() -> None:
    skipped = AnalyzerResult(Analyzer.PROVENANCE, 0.0, False, 0.5, skipped="No provenance keys were given.")

    assert provenance_state_from(skipped, consent_active=True) is ProvenanceState.NONE
