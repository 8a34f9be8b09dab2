"""The consent statement check end to end on real media (issue 12): a statement is held for a clinic
admin, never accepted, when it re-uses the enrollment clip or when the challenge words are not
said; each check's score, threshold and evidence are kept for the admin and on the ledger.
Skips without ../shared/media."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consent.models import LedgerEntry, LikenessConsent
from tests.avatars.conftest import GRID, grid_clip
from tests.avatars.statement_support import enroll_footage, live_statement

pytestmark = pytest.mark.media

RETALKING = GRID.parent / "retalking"


def _retalking_halves(tmp_path: Path) -> tuple[Path, Path]:
    from provenance.engine.media_io import transcode

    clip = RETALKING / "1.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent (../shared/media is for internal evaluation only)")
    first = transcode(clip, tmp_path / "first.mp4", max_seconds=3.0)
    second = transcode(clip, tmp_path / "second.mp4", start_seconds=3.0)
    return first, second


def _checked_entry(consent: LikenessConsent) -> str:
    return LedgerEntry.objects.get(
        event_type="likeness_consent.evidence_checked", object_id=str(consent.id)
    ).entry


def test_the_enrollment_clip_resubmitted_as_a_live_statement_is_held(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    footage = grid_clip("bbaf2n.mpg")
    enroll_footage(studio, footage, django_capture_on_commit_callbacks)
    consent = live_statement(studio, footage, django_capture_on_commit_callbacks)
    assert consent.status == "awaiting_verification"
    reuse = consent.statement_checks["reuse"]
    measures = {match["measure"] for match in reuse["matches"]}
    assert reuse["passed"] is False and {"sha256", "sound"} <= measures
    entry = _checked_entry(consent)
    assert '"reuse_passed":false' in entry and '"held_for_manual_verification":true' in entry


def test_a_re_encoded_enrollment_clip_is_held_as_a_copy(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    from provenance.engine.media_io import transcode

    footage = grid_clip("bbaf2n.mpg")
    enroll_footage(studio, footage, django_capture_on_commit_callbacks)
    copy = transcode(footage, tmp_path / "copy.mp4", crf=30, scale=0.8)
    consent = live_statement(studio, copy, django_capture_on_commit_callbacks)
    reuse = consent.statement_checks["reuse"]
    assert consent.status == "awaiting_verification"
    assert reuse["passed"] is False and "sha256" not in {m["measure"] for m in reuse["matches"]}


def test_the_right_person_without_the_challenge_words_is_held(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    enrollment, statement = _retalking_halves(tmp_path)
    enroll_footage(studio, enrollment, django_capture_on_commit_callbacks)
    consent = live_statement(studio, statement, django_capture_on_commit_callbacks)
    checks = consent.statement_checks
    assert consent.status == "awaiting_verification"
    assert checks["identity"]["passed"] is True and checks["reuse"]["passed"] is True
    assert checks["words"]["passed"] is False
    assert checks["words"]["score"] < checks["words"]["threshold"]
    assert [w["text"] for w in checks["words"]["words"] if w["challenge"]]  # per-word timing as evidence


def test_a_statement_with_a_wrong_challenge_phrase_is_held_without_listening(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    enrollment, statement = _retalking_halves(tmp_path)
    enroll_footage(studio, enrollment, django_capture_on_commit_callbacks)
    consent = live_statement(studio, statement, django_capture_on_commit_callbacks, phrase="apple lemon")
    assert consent.status == "awaiting_verification"
    assert consent.statement_checks["words"] == {
        "passed": False,
        "score": None,
        "threshold": None,
        "reason": "no valid challenge phrase to listen for",
    }
    assert '"words_passed":false' in _checked_entry(consent)


def test_every_manipulation_analyzer_scores_the_statement(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    enrollment, statement = _retalking_halves(tmp_path)
    enroll_footage(studio, enrollment, django_capture_on_commit_callbacks)
    consent = live_statement(studio, statement, django_capture_on_commit_callbacks)
    analyzers = consent.statement_checks["manipulation"]["analyzers"]
    assert {"visual_manipulation", "lip_sync", "synthetic_speech"} <= set(analyzers)
    assert all({"score", "threshold", "flagged"} <= set(a) for a in analyzers.values())
    entry = _checked_entry(consent)
    assert '"manipulation_synthetic_speech_milli"' in entry
    assert '"manipulation_visual_manipulation_threshold_milli"' in entry
    # The scanner's lip-sync analyzer has its own key: it no longer overwrites the identity check's
    # liveness lip-sync score under the same name.
    scores = json.loads(entry)
    lip_sync = consent.statement_checks["manipulation"]["analyzers"]["lip_sync"]["score"]
    assert _find_key(scores, "manipulation_lip_sync_milli") == round(lip_sync * 1000)
    identity = consent.statement_checks["identity"]
    if identity.get("lip_sync") is not None:
        assert abs(_find_key(scores, "lip_sync_milli") - identity["lip_sync"] * 1000) <= 1


def _find_key(tree: Any, key: str) -> Any:
    """The value of `key` wherever it sits in a ledger entry's JSON."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for value in tree.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def test_a_face_swap_of_the_enrolled_person_with_their_real_voice_is_held(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    """The enrolled person's fresh recording, face pasted onto another person, real voice under it:
    identity passes (the face and the voice are theirs), so the scanner's analyzers must say why."""
    from bench.statement_face_swap import ENROLLED_SECONDS, make_swap
    from provenance.engine.media_io import transcode

    donor, host = RETALKING / "3.mp4", RETALKING / "1.mp4"
    if not (donor.exists() and host.exists()):
        pytest.skip("../shared/media/talking/retalking is absent")
    enrollment = transcode(donor, tmp_path / "enrollment.mp4", max_seconds=ENROLLED_SECONDS)
    enroll_footage(studio, enrollment, django_capture_on_commit_callbacks)
    swapped = make_swap(donor, host, tmp_path / "swap.mp4")
    consent = live_statement(studio, swapped, django_capture_on_commit_callbacks)
    checks = consent.statement_checks
    assert consent.status == "awaiting_verification"
    assert checks["identity"]["passed"] is True  # the old check's face and voice are fooled
    assert checks["manipulation"]["passed"] is False
    assert checks["manipulation"]["analyzers"]["blending_flicker"]["flagged"] is True
