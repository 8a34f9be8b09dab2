"""Likeness consent: signing, verification, the render gate and its reasons, revocation and expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent.hooks import ConsentEndEffect, consent_end_handler_register
from consent.ledger import ledger_verify
from consent.models import LedgerEntry, LikenessConsent, LikenessStatus
from consent.services.likeness import (
    clinician_departure_record,
    likeness_consent_assert_allows,
    likeness_consent_record_use,
    likeness_consent_revoke,
    likeness_consent_sign,
    likeness_consent_verify_automated,
    likeness_consent_verify_manual,
    likeness_consents_expire,
    likeness_terms,
)
from consent.services.signatures import signature_is_valid
from core.errors import ApplicationError
from core.models import JobStatus, MediaJob
from core.services import job_claim
from tests.consent.conftest import active_consent, scope, use
from tests.support import PASSWORD


def _events(consent: LikenessConsent) -> list[str]:
    return list(
        LedgerEntry.objects.filter(object_id=str(consent.id))
        .order_by("seq")
        .values_list("event_type", flat=True)
    )


def test_signing_needs_the_password(texts: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_sign(clinician=texts.clinician, scope=scope(), password="wrong")
    assert refused.value.code == "signature_reauthentication_failed"
    assert LikenessConsent.objects.count() == 0


def test_a_signed_consent_awaits_verification_and_records_the_signature(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    assert consent.status == LikenessStatus.AWAITING_VERIFICATION
    signature = consent.signature
    assert signature.printed_name == texts.clinician.printed_name
    assert "I consent to" in signature.meaning and signature.text_sha256 == consent.text.sha256
    assert (consent.valid_until - consent.valid_from).days == 3650
    assert _events(consent) == ["likeness_consent.signed"]
    assert signature_is_valid(
        signature=signature,
        record_type="likeness_consent",
        record_id=consent.id,
        text=consent.text,
        terms=likeness_terms(consent),
    )


def test_a_signature_cannot_be_copied_onto_another_consent(texts: Any) -> None:
    first = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    second = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    assert not signature_is_valid(
        signature=first.signature,
        record_type="likeness_consent",
        record_id=second.id,
        text=second.text,
        terms=likeness_terms(second),
    )


def test_a_signature_fails_when_the_signed_text_or_terms_change(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    text = consent.text
    text.body = (
        text.body + " And the clinic may also use it for advertising."
    )  # edited behind everyone's back
    assert not signature_is_valid(
        signature=consent.signature,
        record_type="likeness_consent",
        record_id=consent.id,
        text=text,
        terms=likeness_terms(consent),
    )
    consent.refresh_from_db()
    widened = {**likeness_terms(consent), "topics": ["anything"]}
    assert not signature_is_valid(
        signature=consent.signature,
        record_type="likeness_consent",
        record_id=consent.id,
        text=consent.text,
        terms=widened,
    )


def test_consent_texts_are_immutable(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    with pytest.raises(ValueError, match="immutable"):
        consent.text.save()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("topics", [], "topics"),
        ("languages", [" "], "languages"),
        ("valid_years", 11, "1 to 10 years"),
        ("max_videos", 0, "at least 1"),
        ("representation", "agent", "representation"),
    ],
)
def test_invalid_scopes_are_refused(texts: Any, field: str, value: Any, message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        likeness_consent_sign(clinician=texts.clinician, scope=scope(**{field: value}), password=PASSWORD)


def test_manual_verification_activates_and_supersedes_the_previous_consent(texts: Any) -> None:
    first = active_consent(texts)
    second = active_consent(texts, topics=["diabetes"])
    first.refresh_from_db()
    assert (first.status, first.superseded_by_id) == (LikenessStatus.SUPERSEDED, second.id)
    assert second.status == LikenessStatus.ACTIVE and second.verification_method == "manual"
    assert _events(second)[-1] == "likeness_consent.activated"


def test_only_clinic_admins_verify_by_hand(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    for actor in (texts.clinician, texts.compliance, texts.patient):
        with pytest.raises(ApplicationError):
            likeness_consent_verify_manual(actor=actor, consent_id=consent.id)


def test_another_clinics_admin_cannot_verify(texts: Any, clinic_b: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_verify_manual(actor=clinic_b.admin, consent_id=consent.id)
    assert refused.value.status == 404


def test_a_failed_automated_check_keeps_the_consent_waiting(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    likeness_consent_verify_automated(
        consent_id=consent.id, passed=False, scores={"face_distance_milli": 710}
    )
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.AWAITING_VERIFICATION
    LikenessConsent.objects.filter(id=consent.id).update(statement_capture="live")
    likeness_consent_verify_automated(consent_id=consent.id, passed=True, scores={"face_distance_milli": 120})
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE and consent.verification_method == "automated"


def test_a_passed_check_of_an_uploaded_file_still_waits_for_an_admin(texts: Any) -> None:
    consent = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    LikenessConsent.objects.filter(id=consent.id).update(statement_capture="file")
    likeness_consent_verify_automated(
        consent_id=consent.id,
        passed=True,
        scores={"face_distance_milli": 120},
        checks={"capture": {"passed": False}},
    )
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.AWAITING_VERIFICATION
    assert consent.statement_checks == {"capture": {"passed": False}}
    entry = LedgerEntry.objects.get(event_type="likeness_consent.evidence_checked", object_id=str(consent.id))
    assert '"held_for_manual_verification":true' in entry.entry and '"capture":"file"' in entry.entry


def test_the_gate_allows_an_in_scope_use(texts: Any) -> None:
    consent = active_consent(texts)
    assert likeness_consent_assert_allows(clinician=texts.clinician, use=use()) == consent


@pytest.mark.parametrize(
    "overrides,code,failed",
    [
        ({"topic": "oncology"}, "consent_scope_topic", "topic"),
        ({"audience": "public"}, "consent_scope_audience", "audience"),
        ({"language": "es"}, "consent_scope_language", "language"),
        ({"channel": "social"}, "consent_scope_channel", "channel"),
        ({"synthetic_voice": True}, "consent_scope_synthetic_voice", "synthetic_voice"),
    ],
)
def test_the_gate_names_the_scope_item_that_fails(
    texts: Any, overrides: dict, code: str, failed: str
) -> None:
    active_consent(texts)
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use(**overrides))
    assert refused.value.code == code and refused.value.extra["failed"] == failed


def test_the_gate_refuses_without_consent(texts: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use())
    assert refused.value.code == "consent_missing"


def test_the_gate_refuses_an_unverified_consent(texts: Any) -> None:
    likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    with pytest.raises(ApplicationError, match="not verified"):
        likeness_consent_assert_allows(clinician=texts.clinician, use=use())


def test_the_gate_refuses_after_revocation(texts: Any) -> None:
    consent = active_consent(texts)
    likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)
    with pytest.raises(ApplicationError, match="revoked") as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use())
    assert refused.value.code == "consent_not_active"


def test_the_gate_refuses_another_clinics_clinician(texts: Any, clinic_b: Any) -> None:
    active_consent(texts)
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use(), clinic_id=clinic_b.clinic.id)
    assert refused.value.code == "consent_other_clinic"


def test_the_gate_enforces_the_video_cap(texts: Any) -> None:
    consent = active_consent(texts, max_videos=1)
    likeness_consent_record_use(consent=consent, object_type="video", object_id="v1", actor=texts.clinician)
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use())
    assert refused.value.code == "consent_use_limit_reached"
    with pytest.raises(ApplicationError):
        likeness_consent_record_use(
            consent=consent, object_type="video", object_id="v2", actor=texts.clinician
        )


def test_expiry_ends_consents_past_their_period(texts: Any) -> None:
    consent = active_consent(texts)
    LikenessConsent.objects.filter(id=consent.id).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert likeness_consents_expire() == 1
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.EXPIRED and "likeness_consent.expired" in _events(consent)
    with pytest.raises(ApplicationError) as refused:
        likeness_consent_assert_allows(clinician=texts.clinician, use=use())
    assert refused.value.code == "consent_expired"


def test_only_the_clinician_revokes_and_only_once(texts: Any) -> None:
    consent = active_consent(texts)
    with pytest.raises(ApplicationError):
        likeness_consent_revoke(actor=texts.admin, consent_id=consent.id)
    likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)
    with pytest.raises(ApplicationError) as again:
        likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)
    assert again.value.status == 409


def test_a_departure_ends_every_consent_of_the_clinician(texts: Any) -> None:
    consent = active_consent(texts)
    assert (
        clinician_departure_record(
            actor=texts.admin, clinician_id=texts.clinician.id, reason="clinician_departed"
        )
        == 1
    )
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.REVOKED and consent.revocation_reason == "clinician_departed"


def _render_job(clinic: Any, consent: LikenessConsent) -> MediaJob:
    return MediaJob.objects.create(
        clinic=clinic.clinic,
        owner=clinic.clinician,
        kind="render",
        queue="media",
        params={"likeness_consent": str(consent.id)},
    )


def test_revocation_cancels_queued_and_running_jobs_and_withdraws_publications(texts: Any) -> None:
    consent = active_consent(texts)
    queued, running, unrelated = (
        _render_job(texts, consent),
        _render_job(texts, consent),
        MediaJob.objects.create(clinic=texts.clinic, owner=texts.clinician, kind="render", params={}),
    )
    job_claim(job_id=running.id)
    withdrawn: list[str] = []

    # A test double of the avatar studio's publication hook (the real one lives in avatars/).
    def withdraw_publications(ended: LikenessConsent, reason: str) -> list[ConsentEndEffect]:
        if ended.id != consent.id:
            return []
        withdrawn.append("video-1")
        return [ConsentEndEffect("publication.withdrawn", "video", "video-1")]

    consent_end_handler_register(withdraw_publications)
    likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)
    queued.refresh_from_db()
    running.refresh_from_db()
    unrelated.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    assert (
        running.status == JobStatus.RUNNING and running.cancel_requested
    )  # stops at its next progress report
    assert unrelated.status == JobStatus.QUEUED
    assert withdrawn == ["video-1"]
    events = list(
        LedgerEntry.objects.filter(entry__contains=str(consent.id)).values_list("event_type", flat=True)
    )
    assert events.count("job.cancelled") == 2
    assert "publication.withdrawn" in events and "likeness_consent.revoked" in events
    assert ledger_verify().ok
