"""The statement check's decision (issue 12): a live statement with a valid challenge activates the
consent only when identity, liveness, words, re-use and manipulation all pass; any one failing
holds it for a clinic admin (so does enrollment footage the manipulation analyzers flagged). The
checks themselves are measured on real media elsewhere
(test_statement_checks.py, bench/statement_*.py); here each is replaced by its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.services import statement as statement_service
from consent.models import LedgerEntry, LikenessConsent
from consent.services import (
    likeness_consent_sign,
    likeness_consent_statement_upload,
    statement_challenge_issue,
)
from core.models import MediaJob
from tests.avatars.conftest import run_job
from tests.consent.conftest import scope
from tests.support import PASSWORD

CHECKS = ("identity", "liveness", "words", "reuse", "manipulation", "enrollment")


def _verdicts(monkeypatch: pytest.MonkeyPatch, failing: str | None, *, real_reuse: bool = False) -> None:
    def identity(*args: Any) -> dict[str, Any]:
        return {
            "passed": failing != "identity",
            "liveness_passed": failing != "liveness",
            "reasons": [],
            "ledger": {"face_distance_milli": 200},
        }

    monkeypatch.setattr(statement_service, "_identity_check", identity)
    monkeypatch.setattr(
        statement_service,
        "_words_check",
        lambda *a: {"passed": failing != "words", "score": 2.0, "threshold": 1.0, "words": []},
    )
    if not real_reuse:
        monkeypatch.setattr(
            statement_service,
            "_reuse_check",
            lambda *a: {"passed": failing != "reuse", "score": 0.47, "threshold": 0.25, "matches": []},
        )
    monkeypatch.setattr(
        statement_service,
        "_manipulation_check",
        lambda *a: {"passed": failing != "manipulation", "analyzers": {}},
    )
    monkeypatch.setattr(
        statement_service,
        "_enrollment_check",
        lambda *a: {"passed": failing != "enrollment", "analyzers": {}, "reason": "", "source": "test"},
    )


def _live_statement(
    studio: Any, video: Path, capture: Any, *, live: bool = True, consent: LikenessConsent | None = None
) -> LikenessConsent:
    if consent is None:
        consent = likeness_consent_sign(clinician=studio.clinician, scope=scope(), password=PASSWORD)
    extra: dict[str, Any] = {}
    if live:
        issued = statement_challenge_issue(clinician=studio.clinician, consent_id=consent.id)
        extra = {"capture": "live", "challenge_id": issued.id, "challenge_phrase": issued.phrase}
    with capture(execute=False):
        likeness_consent_statement_upload(
            clinician=studio.clinician,
            consent_id=consent.id,
            file=SimpleUploadedFile("statement.mp4", video.read_bytes()),
            **extra,
        )
    run_job(
        MediaJob.objects.filter(kind="statement_check", params__consent=str(consent.id)).latest("created_at")
    )
    return LikenessConsent.objects.get(id=consent.id)


def test_a_live_statement_passing_every_check_activates_the_consent(
    studio: Any, tiny_video: Path, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _verdicts(monkeypatch, failing=None)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks)
    assert consent.status == "active" and consent.verification_method == "automated"
    entry = LedgerEntry.objects.get(event_type="likeness_consent.evidence_checked", object_id=str(consent.id))
    assert '"passed":true' in entry.entry and '"words_passed":true' in entry.entry


@pytest.mark.parametrize("failing", CHECKS)
def test_one_failing_check_holds_the_consent_for_an_admin(
    studio: Any,
    tiny_video: Path,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    _verdicts(monkeypatch, failing=failing)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks)
    assert consent.status == "awaiting_verification"
    assert consent.statement_checks[failing]["passed"] is False
    entry = LedgerEntry.objects.get(event_type="likeness_consent.evidence_checked", object_id=str(consent.id))
    assert '"held_for_manual_verification":true' in entry.entry


def test_an_uploaded_file_passing_every_check_still_waits(
    studio: Any, tiny_video: Path, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _verdicts(monkeypatch, failing=None)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks, live=False)
    assert consent.status == "awaiting_verification"
    assert consent.statement_checks["capture"] == {"passed": False, "value": "file"}


def test_a_statement_uploaded_again_to_the_same_consent_is_held_as_re_use(
    studio: Any, tiny_video: Path, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The earlier upload is no longer the consent's evidence, but it is still compared with."""
    _verdicts(monkeypatch, failing=None, real_reuse=True)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks, live=False)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks, consent=consent)
    reuse = consent.statement_checks["reuse"]
    assert consent.status == "awaiting_verification" and reuse["passed"] is False
    assert any(
        m["measure"] == "sha256" and m["reference"].startswith("earlier statement") for m in reuse["matches"]
    )
