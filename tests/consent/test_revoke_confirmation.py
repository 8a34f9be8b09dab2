"""Revoking a likeness consent asks first, says what it changes, and needs a ticked box; the page
works without JavaScript (plain forms)."""

from __future__ import annotations

from typing import Any

from consent.models import LikenessStatus
from tests.consent.conftest import active_consent
from tests.support import signed_in_client


def test_the_revoke_button_leads_to_a_confirmation_that_says_what_happens(texts: Any) -> None:
    consent = active_consent(texts)
    page = signed_in_client(texts.clinician).post(f"/consent/likeness/{consent.id}/revoke/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Revoke my likeness consent?" in html
    assert "No published video is affected" in html and "no new video can be made" in html
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE


def test_confirming_without_ticking_the_box_changes_nothing(texts: Any) -> None:
    consent = active_consent(texts)
    page = signed_in_client(texts.clinician).post(
        f"/consent/likeness/{consent.id}/revoke/", {"confirmed": "yes"}
    )
    assert page.status_code == 400 and b"Tick the box to confirm." in page.content
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE


def test_a_confirmed_revocation_revokes(texts: Any) -> None:
    consent = active_consent(texts)
    response = signed_in_client(texts.clinician).post(
        f"/consent/likeness/{consent.id}/revoke/", {"confirmed": "yes", "acknowledge": "on"}
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.REVOKED


def test_someone_elses_consent_cannot_be_revoked_from_the_page(texts: Any) -> None:
    consent = active_consent(texts)
    response = signed_in_client(texts.admin).post(
        f"/consent/likeness/{consent.id}/revoke/", {"confirmed": "yes", "acknowledge": "on"}
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE
