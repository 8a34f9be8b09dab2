"""The consent statement check: identity, the words said, re-use and manipulation, each with its
score, threshold and evidence, decided together.

A statement passes on its own only when it was captured live with a valid one-time challenge and
every check passes; anything else waits for a clinic admin, who sees every check (SPEC §3.2,
issue 12). The checks:

* **identity** and **liveness**: `avatars.engine.statement` (enrolled face and voice, a speaking face);
* **words**: `avatars.engine.statement_words` (each challenge word recognised among all challenge
  words, every word of the statement timed);
* **reuse**: SHA-256 here, picture and sound fingerprints in `avatars.engine.statement_reuse`,
  against every enrollment upload and every earlier statement of the clinician;
* **manipulation**: the impersonation scanner's analyzers (visual manipulation, lip-sync, identity
  drift, blending flicker, synthetic speech), which the scanner registers with
  `avatars.services.statement_manipulation`; without them the statement waits for a clinic admin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from avatars.models import AvatarJobKind, Enrollment, EnrollmentKind, EnrollmentStatus
from avatars.services.statement_manipulation import statement_manipulation_check as _manipulation_check
from consent.ledger import ledger_append
from consent.models import LikenessConsent, StatementCapture
from consent.services import (
    likeness_consent_verify_automated,
    statement_phrase_of,
    statement_prefix,
    statement_wording,
)
from core.jobs import JobOutcome, upload_fetch
from core.models import MediaJob, Upload
from core.services import job_create

#: Earlier material compared perceptually (the newest first); SHA-256 covers all of it.
MAX_REUSE_REFERENCES = 12


def statement_check_queue(consent: LikenessConsent) -> None:
    """Consent hook: check a newly recorded consent statement (always queued, so that every
    statement's checks are on the ledger; without an enrolled likeness identity fails and a clinic
    admin verifies by hand)."""
    if consent.evidence_upload is None:
        return
    enrollment = (
        Enrollment.objects.filter(
            clinician_id=consent.clinician_id, kind=EnrollmentKind.FOOTAGE, status=EnrollmentStatus.READY
        )
        .order_by("-created_at")
        .first()
    )
    job_create(
        actor=consent.clinician,
        kind=AvatarJobKind.STATEMENT_CHECK,
        input_upload=consent.evidence_upload,
        params={"consent": str(consent.id), "enrollment": str(enrollment.id) if enrollment else ""},
    )


def _milli(value: float) -> int:
    return int(round(value * 1000))


def _earlier_uploads(consent: LikenessConsent, current: Upload) -> list[tuple[str, Upload]]:
    """The clinician's enrollment footage, voice samples and every earlier statement upload (also
    those a later upload replaced on the same consent), newest first."""
    found: list[tuple[str, Upload]] = []
    for enrollment in (
        Enrollment.objects.filter(clinician_id=consent.clinician_id)
        .select_related("footage", "voice")
        .order_by("-created_at")
    ):
        if enrollment.footage is not None:
            found.append((f"enrollment footage {enrollment.id}", enrollment.footage))
        if enrollment.voice is not None:
            found.append((f"enrollment voice sample {enrollment.id}", enrollment.voice))
    earlier = (
        Upload.objects.filter(owner_id=consent.clinician_id, purpose="consent_statement")
        .exclude(id=current.id)
        .order_by("-created_at")
    )
    found += [
        (f"earlier statement {upload.id} ({upload.created_at:%Y-%m-%d %H:%M})", upload) for upload in earlier
    ]
    return found


def _reuse_check(consent: LikenessConsent, statement: Path, upload: Upload, scratch: Path) -> dict[str, Any]:
    from avatars.engine.statement_reuse import MAX_AUDIO_BIT_ERRORS, ReuseReference, check_reuse

    earlier = _earlier_uploads(consent, upload)
    same_bytes = [label for label, other in earlier if other.sha256 == upload.sha256]
    references = []
    for number, (label, other) in enumerate(earlier[:MAX_REUSE_REFERENCES]):
        folder = scratch / f"reference-{number}"
        folder.mkdir()
        references.append(ReuseReference(label, upload_fetch(upload=other, scratch=folder)))
    result = check_reuse(statement, references)
    matches = [{"reference": label, "measure": "sha256"} for label in same_bytes] + [
        {"reference": m.label, "measure": m.measure, "value": round(m.value, 3)} for m in result.matches
    ]
    return {
        "passed": not matches,
        "score": round(result.closest_audio_bit_errors, 3),
        "threshold": MAX_AUDIO_BIT_ERRORS,
        "score_meaning": "smallest share of differing sound-fingerprint bits (at or below the threshold: the same recording)",
        "references": len(earlier),
        "matches": matches,
    }


def _expected_speech(consent: LikenessConsent) -> tuple[str, list[str]] | None:
    """What the clinician was asked to say: the statement up to the challenge, and the challenge's
    words (None without a valid challenge phrase)."""
    phrase = statement_phrase_of(consent)
    if not phrase:
        return None
    return statement_prefix(consent), phrase.split()


def _words_check(consent: LikenessConsent, statement: Path) -> dict[str, Any]:
    from avatars.engine.media import read_audio
    from avatars.engine.statement_words import check_words

    expected = _expected_speech(consent)
    if expected is None:
        return {
            "passed": False,
            "score": None,
            "threshold": None,
            "reason": "no valid challenge phrase to listen for",
        }
    prefix, words = expected
    try:
        samples = read_audio(statement)
    except Exception as error:  # noqa: BLE001 - any unreadable sound is a failed word check, with the reason
        return {"passed": False, "score": None, "threshold": None, "reason": str(error)}
    result = check_words(samples, prefix=prefix, challenge=words, vocabulary=statement_wording().vocabulary)
    return {
        "passed": result.passed,
        "score": round(result.score, 3),
        "threshold": result.threshold,
        "score_meaning": "share of the challenge words the recogniser heard, in order, among all challenge words",
        "reason": result.reason,
        "heard": [
            {"text": w.text, "start": round(w.start, 2), "end": round(w.end, 2), "expected": w.expected}
            for w in result.challenge
        ],
        "words": [
            {
                "text": w.text,
                "start": round(w.start, 2),
                "end": round(w.end, 2),
                "cost": round(w.cost, 3),
                "challenge": w.in_challenge,
            }
            for w in result.words
        ],
    }


def _identity_check(
    consent: LikenessConsent, job: MediaJob, statement: Path, scratch: Path
) -> dict[str, Any]:
    from avatars.engine.statement import StatementCheckSpec, check_consent_statement

    enrollment_id = job.params.get("enrollment")
    if not enrollment_id:
        return {
            "passed": False,
            "liveness_passed": False,
            "reasons": ["No enrolled likeness to compare with."],
        }
    enrollment = Enrollment.objects.select_related("footage", "voice").get(id=enrollment_id)
    if enrollment.footage is None:  # deleted (biometric data destroyed) after the check was queued
        return {
            "passed": False,
            "liveness_passed": False,
            "reasons": ["The enrolled likeness was deleted before the check ran."],
        }
    footage_dir = scratch / "enrollment"
    footage_dir.mkdir()
    footage = upload_fetch(upload=enrollment.footage, scratch=footage_dir)
    voice = None
    if enrollment.voice is not None:
        voice_dir = scratch / "voice"
        voice_dir.mkdir()
        voice = upload_fetch(upload=enrollment.voice, scratch=voice_dir)
    result = check_consent_statement(
        StatementCheckSpec(statement=statement, enrollment=footage, voice_sample=voice)
    )
    thresholds = result.thresholds
    return {
        "passed": result.face_passed and result.voice_passed,
        "liveness_passed": result.liveness_passed,
        "face_distance": None if result.face_distance is None else round(result.face_distance, 3),
        "max_face_distance": thresholds.max_face_distance,
        "voice_similarity": None if result.voice_similarity is None else round(result.voice_similarity, 3),
        "min_voice_similarity": thresholds.min_voice_similarity,
        "mouth_motion": None if result.mouth_motion is None else round(result.mouth_motion, 3),
        "min_mouth_motion": thresholds.min_mouth_motion,
        "lip_sync": None if result.lip_sync is None else round(result.lip_sync, 3),
        "min_lip_sync": thresholds.min_lip_sync,
        "reasons": list(result.reasons),
        "ledger": result.ledger_scores(),
    }


# --- Enrollment footage: the same manipulation analyzers (issue 12, item 4) ----------------------


def enrollment_manipulation_check(footage: Path) -> dict[str, Any]:
    """The manipulation analyzers on enrollment footage, as on a statement (run by the enrollment
    analysis job; the verdict is kept in the job's result and on the ledger)."""
    return _manipulation_check(footage)


def enrollment_manipulation_record(*, enrollment_id: Any, manipulation: dict[str, Any]) -> None:
    """Ledger: whether the enrollment footage passed the manipulation analyzers, with each score."""
    enrollment = Enrollment.objects.get(id=enrollment_id)
    data: dict[str, Any] = {"passed": bool(manipulation["passed"])}
    for name, analyzer in manipulation.get("analyzers", {}).items():
        data[f"manipulation_{name}_milli"] = _milli(analyzer["score"])
        data[f"manipulation_{name}_flagged"] = bool(analyzer["flagged"])
    ledger_append(
        event_type="enrollment.manipulation_checked",
        clinic_id=enrollment.clinic_id,
        object_type="enrollment",
        object_id=enrollment.id,
        subject=enrollment.clinician_id,
        data=data,
    )


#: Why a statement waits when the enrolled footage itself looks manipulated.
ENROLLMENT_MANIPULATED_REASON = (
    "The enrollment footage shows signs of manipulation; a clinic admin verifies the likeness by hand."
)


def _enrollment_check(job: MediaJob, scratch: Path) -> dict[str, Any]:
    """The enrolled footage's manipulation verdict: from its analysis job, or measured now for an
    enrollment analysed before the analyzers ran on enrollments."""
    enrollment_id = job.params.get("enrollment")
    if not enrollment_id:
        return {"passed": False, "analyzers": {}, "reason": "No enrolled likeness to check."}
    enrollment = Enrollment.objects.select_related("job", "footage").get(id=enrollment_id)
    found = (enrollment.job.result or {}).get("manipulation") if enrollment.job is not None else None
    source = "enrollment analysis"
    if found is None:
        assert enrollment.footage is not None  # only footage enrollments are checked against statements
        folder = scratch / "enrollment-manipulation"
        folder.mkdir()
        found = _manipulation_check(upload_fetch(upload=enrollment.footage, scratch=folder))
        source = "measured with this statement"
    return {
        "passed": bool(found["passed"]),
        "analyzers": found.get("analyzers", {}),
        "reason": found.get("reason", "") or ("" if found["passed"] else ENROLLMENT_MANIPULATED_REASON),
        "source": source,
    }


def statement_check_run(*, job: MediaJob, scratch: Path, report: Callable[[float, str], None]) -> JobOutcome:
    """The statement check job's work: every check, then one automated decision recorded with all
    scores (the consent activates only when it passed; otherwise it waits for a clinic admin)."""
    assert job.input_upload is not None
    consent = LikenessConsent.objects.select_related("clinician__clinic").get(id=job.params["consent"])
    statement_dir = scratch / "statement"
    statement_dir.mkdir()
    statement = upload_fetch(upload=job.input_upload, scratch=statement_dir)
    report(0.0, "identity")
    identity = _identity_check(consent, job, statement, scratch)
    report(0.4, "reuse")
    reuse = _reuse_check(consent, statement, job.input_upload, scratch)
    report(0.55, "words")
    words = _words_check(consent, statement)
    report(0.7, "manipulation")
    manipulation = _manipulation_check(statement)
    report(0.9, "enrollment")
    enrollment = _enrollment_check(job, scratch)
    report(0.95, "decision")
    live = consent.statement_capture == StatementCapture.LIVE
    checks: dict[str, Any] = {
        "capture": {"passed": live, "value": consent.statement_capture or StatementCapture.FILE},
        "identity": {k: v for k, v in identity.items() if k != "ledger"},
        "liveness": {"passed": identity["liveness_passed"]},
        "words": words,
        "reuse": reuse,
        "manipulation": manipulation,
        "enrollment": enrollment,
    }
    passed = all(check["passed"] for check in checks.values())
    scores: dict[str, Any] = {
        **identity.get("ledger", {}),
        "passed": passed,
        "capture": checks["capture"]["value"],
        "identity_passed": identity["passed"],
        "words_passed": words["passed"],
        "reuse_passed": reuse["passed"],
        "manipulation_passed": manipulation["passed"],
        "enrollment_manipulation_passed": enrollment["passed"],
        "reuse_matches": len(reuse["matches"]),
        "reuse_sound_bit_errors_milli": _milli(reuse["score"]),
    }
    if words["score"] is not None:
        scores["words_score_milli"] = _milli(words["score"])
        scores["words_threshold_milli"] = _milli(words["threshold"])
    # Prefixed: the scanner's analyzers share names with the identity check's own scores (lip_sync).
    for name, analyzer in manipulation["analyzers"].items():
        scores[f"manipulation_{name}_milli"] = _milli(analyzer["score"])
        scores[f"manipulation_{name}_threshold_milli"] = _milli(analyzer["threshold"])
    reasons = list(identity["reasons"])
    if not live:
        reasons.append(
            "The statement was uploaded as a file; a clinic admin verifies uploaded statements by hand."
        )
    if not words["passed"]:
        reasons.append(
            "The challenge phrase was not heard clearly. Record the statement again, reading every word."
        )
    if not reuse["passed"]:
        reasons.append("The statement repeats an earlier recording; record a new statement live.")
    if not manipulation["passed"]:
        reasons.append(
            manipulation.get("reason")
            or "The recording shows signs of manipulation; a clinic admin will review it."
        )
    if not enrollment["passed"]:
        reasons.append(enrollment["reason"])
    return JobOutcome(
        result={"passed": passed, "reasons": reasons, "scores": scores},
        record=lambda _: likeness_consent_verify_automated(
            consent_id=consent.id, passed=passed, scores=scores, checks=checks
        ),
    )
