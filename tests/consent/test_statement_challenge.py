"""One-time challenges for live consent statements (issue 12): issued once, stored hashed, bound to
the clinician and the consent, expiring, single use; a statement naming a bad one is kept but can
never activate the consent by itself; an uploaded file is labelled as such and held for an admin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from consent.models import LedgerEntry, LikenessConsent, StatementChallenge
from consent.services.challenges import CHALLENGE_LENGTH, CHALLENGE_WORDS, statement_challenge_issue
from consent.services.likeness import (
    likeness_consent_sign,
    likeness_consent_statement_upload,
    likeness_consent_verify_automated,
)
from core.errors import ApplicationError
from tests.consent.conftest import scope
from tests.support import PASSWORD


@pytest.fixture
def consent(texts: Any) -> LikenessConsent:
    return likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)


def _upload(texts: Any, consent: LikenessConsent, video: Path, **kwargs: Any) -> LikenessConsent:
    return likeness_consent_statement_upload(
        clinician=texts.clinician,
        consent_id=consent.id,
        file=SimpleUploadedFile("statement.mp4", video.read_bytes()),
        **kwargs,
    )


def _attached(consent: LikenessConsent) -> str:
    return (
        LedgerEntry.objects.filter(event_type="likeness_consent.evidence_attached", object_id=str(consent.id))
        .latest("seq")
        .entry
    )


def test_a_challenge_is_random_words_shown_once_and_stored_hashed(
    texts: Any, consent: LikenessConsent
) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    words = issued.phrase.split()
    assert len(words) == CHALLENGE_LENGTH and set(words) <= set(CHALLENGE_WORDS)
    row = StatementChallenge.objects.get(id=issued.id)
    assert issued.phrase not in row.phrase_hmac and len(row.phrase_hmac) == 64
    assert texts.clinician.printed_name in issued.statement_text and "diabetes" in issued.statement_text
    assert issued.statement_text.endswith(f"My code is {issued.phrase}.")
    assert row.expires_at - timezone.now() <= timedelta(minutes=5)


def test_two_challenges_differ(texts: Any, consent: LikenessConsent) -> None:
    phrases = {
        statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id).phrase for _ in range(5)
    }
    assert len(phrases) == 5


def test_only_the_consenting_clinician_gets_a_challenge(texts: Any, consent: LikenessConsent) -> None:
    with pytest.raises(ApplicationError):
        statement_challenge_issue(clinician=texts.admin, consent_id=consent.id)


def test_a_live_statement_with_its_challenge_records_the_expected_words(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    consent = _upload(
        texts, consent, tiny_video, capture="live", challenge_id=issued.id, challenge_phrase=issued.phrase
    )
    assert consent.statement_capture == "live" and consent.statement_challenge_id == issued.id
    assert consent.statement_expected_text == issued.statement_text
    assert StatementChallenge.objects.get(id=issued.id).used_at is not None
    assert '"challenge_status":"valid"' in _attached(consent)


def test_a_reused_challenge_is_held(texts: Any, consent: LikenessConsent, tiny_video: Path) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    live = {"capture": "live", "challenge_id": issued.id, "challenge_phrase": issued.phrase}
    _upload(texts, consent, tiny_video, **live)
    consent = _upload(texts, consent, tiny_video, **live)
    assert consent.statement_expected_text == ""
    assert '"challenge_status":"reused"' in _attached(consent)


def test_an_expired_challenge_is_held(texts: Any, consent: LikenessConsent, tiny_video: Path) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    StatementChallenge.objects.filter(id=issued.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    consent = _upload(
        texts, consent, tiny_video, capture="live", challenge_id=issued.id, challenge_phrase=issued.phrase
    )
    assert consent.statement_expected_text == ""
    assert '"challenge_status":"expired"' in _attached(consent)


def test_a_wrong_phrase_is_held(texts: Any, consent: LikenessConsent, tiny_video: Path) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    consent = _upload(
        texts, consent, tiny_video, capture="live", challenge_id=issued.id, challenge_phrase="apple apple"
    )
    assert consent.statement_expected_text == ""
    assert '"challenge_status":"wrong_phrase"' in _attached(consent)


def test_a_challenge_of_another_consent_is_unknown(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    issued = statement_challenge_issue(clinician=texts.clinician, consent_id=consent.id)
    other = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    other = _upload(
        texts, other, tiny_video, capture="live", challenge_id=issued.id, challenge_phrase=issued.phrase
    )
    assert '"challenge_status":"unknown"' in _attached(other)
    assert StatementChallenge.objects.get(id=issued.id).used_at is None


def test_a_malformed_challenge_id_is_unknown_not_an_error(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    consent = _upload(
        texts, consent, tiny_video, capture="live", challenge_id="not-a-uuid", challenge_phrase="x"
    )
    assert '"challenge_status":"unknown"' in _attached(consent)


def test_an_uploaded_file_is_labelled_and_never_activates_on_its_own(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    consent = _upload(texts, consent, tiny_video)
    assert consent.statement_capture == "file"
    assert '"capture":"file"' in _attached(consent) and '"challenge_status":"missing"' in _attached(consent)
    likeness_consent_verify_automated(consent_id=consent.id, passed=True, scores={"passed": True})
    consent.refresh_from_db()
    assert consent.status == "awaiting_verification"


def test_an_unknown_capture_kind_is_refused_and_leaves_nothing(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    with pytest.raises(ApplicationError) as refused:
        _upload(texts, consent, tiny_video, capture="screen")
    assert refused.value.status == 400
    consent.refresh_from_db()
    assert consent.evidence_upload is None


def test_the_api_issues_a_challenge_and_takes_a_live_statement_with_it(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    from tests.support import api_client

    client = api_client(texts.clinician)
    issued = client.post(f"/api/v1/consents/likeness/{consent.id}/challenge/")
    assert issued.status_code == 201, issued.json()
    body = issued.json()
    assert body["statement_text"].endswith(f"My code is {body['phrase']}.")
    response = client.post(
        f"/api/v1/consents/likeness/{consent.id}/evidence/",
        {
            "file": SimpleUploadedFile("statement.webm", tiny_video.read_bytes()),
            "capture": "live",
            "challenge_id": body["id"],
            "challenge_phrase": body["phrase"],
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    assert response.json()["statement_capture"] == "live"
    assert '"challenge_status":"valid"' in _attached(consent)


def test_another_user_gets_no_challenge(texts: Any, consent: LikenessConsent) -> None:
    from tests.support import api_client

    response = api_client(texts.admin).post(f"/api/v1/consents/likeness/{consent.id}/challenge/")
    assert response.status_code in (403, 404) and response.json()["message"]
    assert not StatementChallenge.objects.exists()


def test_the_statement_page_shows_the_statement_with_name_and_scope_and_the_live_recorder(
    texts: Any, consent: LikenessConsent
) -> None:
    from tests.support import signed_in_client

    page = signed_in_client(texts.clinician).get("/consent/likeness/").content.decode()
    assert f"I, {texts.clinician.printed_name}, consent to {texts.clinic.name}" in page
    assert "about asthma, diabetes" in page
    assert 'id="statement-start"' in page and "js/statement.js" in page
    assert "a clinic admin always verifies it by hand" in page


def test_the_admin_sees_each_check_with_score_threshold_and_evidence(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    from tests.support import signed_in_client

    consent = _upload(texts, consent, tiny_video)
    checks = {
        "capture": {"passed": False, "value": "file"},
        "words": {
            "passed": False,
            "score": 0.21,
            "threshold": 1.0,
            "reason": "challenge_not_heard",
            "words": [{"text": "tiger", "start": 1.2, "end": 1.6, "cost": 3.1, "challenge": True}],
        },
        "reuse": {
            "passed": False,
            "score": 0.04,
            "threshold": 0.25,
            "references": 2,
            "matches": [{"reference": "enrollment footage 1", "measure": "sound"}],
        },
    }
    likeness_consent_verify_automated(
        consent_id=consent.id, passed=False, scores={"passed": False}, checks=checks
    )
    page = signed_in_client(texts.admin).get("/consent/admin/").content.decode()
    assert "uploaded file</strong> (always verified by hand)" in page
    assert 'data-check="words"' in page and "0.21" in page and "“tiger” 1.2–1.6 s" in page
    assert "The one-time code was not heard clearly enough" in page and "challenge_not_heard" not in page
    assert "matches enrollment footage 1 by sound" in page and "0.25" in page
    assert 'id="statement-check-rates"' in page and "bench/statement_words.py" in page


def test_a_manual_verification_records_the_checks_it_overruled(
    texts: Any, consent: LikenessConsent, tiny_video: Path
) -> None:
    from consent.services.likeness import likeness_consent_verify_manual

    consent = _upload(texts, consent, tiny_video)
    checks = {"capture": {"passed": False}, "identity": {"passed": True}, "reuse": {"passed": False}}
    likeness_consent_verify_automated(
        consent_id=consent.id, passed=False, scores={"passed": False}, checks=checks
    )
    likeness_consent_verify_manual(actor=texts.admin, consent_id=consent.id)
    entry = LedgerEntry.objects.get(event_type="likeness_consent.activated", object_id=str(consent.id)).entry
    assert '"method":"manual"' in entry and '"failed_checks":["capture","reuse"]' in entry
    assert '"capture":"file"' in entry
