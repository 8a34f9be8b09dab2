"""Verification of a published stock-presenter video: signed by its clinic with consent active, a
changed or re-encoded copy, a withdrawn video. The video is rendered once for the module
(tests/provenance/conftest.py): these tests only read it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from avatars.models import Video
from avatars.services import video_publish, video_review, video_withdraw
from consent.models import LedgerEntry
from provenance.models import ProvenanceRecord
from provenance.services import Verdict, media_verify, output_manifest
from tests.provenance.conftest import RenderedOnce
from tests.provenance.test_verify import _fresh_index, _path, _reencode, _upload  # noqa: F401


@pytest.fixture
def clinic_a(rendered_once: RenderedOnce, db: None) -> Any:
    return rendered_once.clinic_a


@pytest.fixture
def clinic_b(rendered_once: RenderedOnce, db: None) -> Any:
    return rendered_once.clinic_b


@pytest.fixture
def studio(texts: Any) -> Any:
    return texts


@pytest.fixture
def published(stock_render: Video, studio: Any) -> Video:
    """The module's stock-presenter video, approved and published to a patient of clinic alpha."""
    video_review(actor=studio.clinician, video_id=stock_render.id, approve=True)
    video_publish(actor=studio.clinician, video_id=stock_render.id, patient_ids=[studio.patient.pk])
    stock_render.refresh_from_db()
    return stock_render


def test_a_published_video_verifies_as_signed_by_its_clinic_with_consent_active(
    published: Video, studio: Any
) -> None:
    response = _upload(APIClient(), _path(published))
    assert response.status_code == 200, response.content
    body = response.json()
    record = ProvenanceRecord.objects.get(video=published, output_kind="avatar_video")
    assert body["verdict"] == Verdict.SIGNED_CONSENT_ACTIVE
    assert body["clinic"] == studio.clinic.name and body["consent_active"] is True
    assert body["headline"] == f"Signed by {studio.clinic.name}. The consent behind this video is active."
    evidence = body["evidence"]
    assert evidence["manifest"]["state"] == "Trusted" and evidence["manifest"]["signer"] == studio.clinic.name
    assert evidence["manifest"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert evidence["watermark"]["found"] is True and evidence["watermark"]["content_id"] == record.content_id
    assert evidence["fingerprint"]["matched"] is True
    # No person is named: the page is public, the clinic is who a viewer can ask.
    for user in studio.by_role.values():
        assert user.printed_name not in response.content.decode()
    # The ledger keeps the file's hash and the verdict, nothing else about the visitor or the file.
    digest = hashlib.sha256(_path(published).read_bytes()).hexdigest()
    entry = LedgerEntry.objects.get(event_type="provenance.verified")
    assert entry.clinic_id == studio.clinic.id  # the clinic sees checks of its own content
    assert entry.object_id == digest and json.loads(entry.entry)["data"] == {
        "sha256": digest,
        "verdict": "signed_consent_active",
    }
    # The poster is its own output, with its own content id in its pixels and its manifest.
    poster = media_verify(Path(default_storage.path(published.poster_key)))
    assert poster.verdict is Verdict.SIGNED_CONSENT_ACTIVE and poster.watermark_found
    assert poster.output_kind == "poster" and poster.content_id != record.content_id
    assert record.sha256 == published.content_sha256


def test_a_changed_file_reads_altered_and_a_stripped_reencoded_copy_is_recognized(
    published: Video, studio: Any, tmp_path: Path, settings: Any
) -> None:
    data = bytearray(_path(published).read_bytes())
    data[len(data) // 2] ^= 0xFF
    body = _upload(APIClient(), _path(published), name="flipped.mp4", data=bytes(data)).json()
    assert body["verdict"] == Verdict.ALTERED, body
    assert body["headline"] == "A signature is present, but the file was altered after signing."
    assert body["evidence"]["manifest"]["state"] == "Invalid"

    copy = _reencode(_path(published), tmp_path / "copy.mp4", crf=28, scale=0.5)
    assert output_manifest(copy).state.value == "None"
    outcome = media_verify(copy)
    record = ProvenanceRecord.objects.get(video=published, output_kind="avatar_video")
    assert outcome.verdict is Verdict.RECOGNIZED and outcome.clinic_name == studio.clinic.name
    assert outcome.watermark_found and outcome.content_id == record.content_id
    assert outcome.fingerprint_match and outcome.consent_active is True
    assert "by its watermark and fingerprint" in outcome.headline

    # A verifier with another key cannot read the mark: the fingerprint alone only shows that the
    # copy resembles the clinic's video (issue 9 finding 15), it vouches for nothing.
    settings.PROVENANCE_WATERMARK_KEY = "a-different-key-that-cannot-read-the-watermark"
    outcome = media_verify(copy)
    assert outcome.verdict is Verdict.RESEMBLES and not outcome.watermark_found
    assert outcome.fingerprint_match and outcome.clinic_name == studio.clinic.name
    assert outcome.headline.startswith(f"Resembles {studio.clinic.name}'s video {record.content_id}")


def test_a_withdrawn_video_shows_consent_withdrawn(published: Video, studio: Any, tmp_path: Path) -> None:
    video_withdraw(video=published, reason="consent_revoked", actor=None)
    outcome = media_verify(_path(published))
    assert outcome.verdict is Verdict.SIGNED_CONSENT_WITHDRAWN and outcome.consent_active is False
    assert (
        outcome.headline == f"Signed by {studio.clinic.name}, but the consent behind it has been withdrawn."
    )
    copy = media_verify(_reencode(_path(published), tmp_path / "copy.mp4"))
    assert copy.verdict is Verdict.RECOGNIZED and "withdrawn" in copy.headline
