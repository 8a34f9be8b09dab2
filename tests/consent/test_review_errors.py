"""Issue 9 findings 8, 9 and 11: refusals on the consent pages and API are clear 4xx answers, not 500s
or redirects that lose the reason, and a refused action writes nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.models import Disclosure, LedgerEntry, LikenessConsent, LikenessStatus
from core.models import Upload
from tests.consent.conftest import active_consent, scope
from tests.support import PASSWORD, ClinicPeople, api_client, signed_in_client


def _stored_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _awaiting(clinic: ClinicPeople) -> LikenessConsent:
    from consent.services.likeness import likeness_consent_sign

    return likeness_consent_sign(clinician=clinic.clinician, scope=scope(), password=PASSWORD)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- finding 8: /consent/admin/ actions on a record in the wrong state ----------------------------


def test_verifying_an_active_consent_by_hand_shows_the_reason_on_the_page(texts: ClinicPeople) -> None:
    """Issue 9 finding 8: "Verify by hand" on a consent no longer awaiting verification was a 500
    ('ConsentTextForm' object has no attribute 'cleaned_data')."""
    consent = active_consent(texts)
    entries = LedgerEntry.objects.count()
    response = signed_in_client(texts.admin).post("/consent/admin/", {"verify": str(consent.id)})
    assert response.status_code == 400
    assert "Only a consent awaiting verification can be verified" in response.content.decode()
    assert LedgerEntry.objects.count() == entries
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE


@pytest.mark.parametrize("value", ["not-a-consent", "00000000-0000-0000-0000-000000000000"])
def test_verifying_a_consent_that_is_not_there_is_refused_on_the_page(
    texts: ClinicPeople, value: str
) -> None:
    """Issue 9 finding 8: a malformed or unknown consent id in the verify action was a 500."""
    entries = LedgerEntry.objects.count()
    response = signed_in_client(texts.admin).post("/consent/admin/", {"verify": value})
    assert response.status_code in (400, 404)
    assert 'role="alert"' in response.content.decode()
    assert LedgerEntry.objects.count() == entries


def test_a_departure_with_an_unknown_reason_is_refused_on_the_page(texts: ClinicPeople) -> None:
    """Issue 9 finding 8: a departure the service refused was a 500; the consent stays active."""
    consent = active_consent(texts)
    entries = LedgerEntry.objects.count()
    response = signed_in_client(texts.admin).post(
        "/consent/admin/", {"departure": str(texts.clinician.pk), "reason": "fired"}
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert LedgerEntry.objects.count() == entries
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE


@pytest.mark.parametrize("who", ["not-a-number", "patient", "other-clinic"])
def test_a_departure_of_someone_who_is_not_a_clinician_here_is_refused(
    texts: ClinicPeople, clinic_b: ClinicPeople, who: str
) -> None:
    """Issue 9 finding 8: a non-numeric clinician id in the departure action was a 500."""
    value = {
        "not-a-number": "abc",
        "patient": str(texts.patient.pk),
        "other-clinic": str(clinic_b.clinician.pk),
    }
    entries = LedgerEntry.objects.count()
    response = signed_in_client(texts.admin).post(
        "/consent/admin/", {"departure": value[who], "reason": "clinician_departed"}
    )
    assert response.status_code == 400
    assert "Choose a clinician of your clinic." in response.content.decode()
    assert LedgerEntry.objects.count() == entries


def test_a_departure_still_ends_the_clinicians_consents(texts: ClinicPeople) -> None:
    consent = active_consent(texts)
    response = signed_in_client(texts.admin).post(
        "/consent/admin/", {"departure": str(texts.clinician.pk), "reason": "clinician_deceased"}
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.REVOKED and consent.revocation_reason == "clinician_deceased"


# --- finding 9: ids in API input are validated --------------------------------------------------


@pytest.mark.parametrize("subject", ["abc", "12; DROP", "1.5", "-3", "99999999999999999999999"])
def test_an_export_with_a_subject_that_is_not_a_person_id_is_a_400(texts: ClinicPeople, subject: str) -> None:
    """Issue 9 finding 9: POST /api/v1/compliance/exports/ with a non-numeric subject was a 500
    ("Field 'id' expected a number"); nothing is exported or recorded."""
    active_consent(texts)
    entries = LedgerEntry.objects.count()
    response = api_client(texts.compliance).post(
        "/api/v1/compliance/exports/",
        {"format": "json", "recipient": "Auditor", "purpose": "Audit", "subject": subject},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input" and body["message"].startswith("subject")
    assert LedgerEntry.objects.count() == entries and not Disclosure.objects.exists()


def test_the_ledger_list_refuses_a_subject_that_is_not_a_person_id(texts: ClinicPeople) -> None:
    """Issue 9 finding 9: the same filter on GET /api/v1/ledger/entries/ is validated the same way."""
    client = api_client(texts.compliance)
    response = client.get("/api/v1/ledger/entries/", {"subject": "abc"})
    assert response.status_code == 400 and response.json()["message"].startswith("subject")


def test_an_export_for_one_person_still_works(texts: ClinicPeople) -> None:
    active_consent(texts)
    response = api_client(texts.compliance).post(
        "/api/v1/compliance/exports/",
        {"format": "json", "recipient": "Auditor", "purpose": "Audit", "subject": texts.clinician.pk},
        format="json",
    )
    assert response.status_code == 200
    consents = json.loads(response.content)["consents"]
    assert [c["subject_id"] for c in consents] == [str(texts.clinician.pk)]


# --- finding 11: consent-statement refusals -----------------------------------------------------


@pytest.mark.parametrize(
    "name,data,status",
    [("statement.mp4", b"", 400), ("statement.mp4", b"\x00" * 4096, 415)],
    ids=["empty", "random-bytes"],
)
def test_a_refused_statement_re_renders_the_page_with_the_reason(
    texts: ClinicPeople, settings: Any, name: str, data: bytes, status: int
) -> None:
    """Issue 9 finding 11: a refused statement upload answered 302 with a flash message."""
    consent = _awaiting(texts)
    response = signed_in_client(texts.clinician).post(
        f"/consent/likeness/{consent.id}/evidence/", {"file": SimpleUploadedFile(name, data)}
    )
    assert response.status_code == status
    page = response.content.decode()
    assert 'role="alert"' in page and "Upload statement" in page  # the form is shown again, with the error
    assert not Upload.objects.exists() and _stored_files(settings) == []


def test_a_statement_form_without_a_file_says_what_to_choose(texts: ClinicPeople) -> None:
    """Issue 9 finding 11: the missing-file refusal was a redirect too."""
    consent = _awaiting(texts)
    response = signed_in_client(texts.clinician).post(f"/consent/likeness/{consent.id}/evidence/", {})
    assert response.status_code == 400
    assert "Choose a video file of your consent statement." in response.content.decode()


def test_a_statement_for_a_consent_that_no_longer_awaits_it_is_refused_on_the_page(
    texts: ClinicPeople, tiny_video: Path, settings: Any
) -> None:
    """Issue 9 finding 11: the wrong-state refusal is shown on the page; the checked file is not kept."""
    consent = active_consent(texts)
    response = signed_in_client(texts.clinician).post(
        f"/consent/likeness/{consent.id}/evidence/",
        {"file": SimpleUploadedFile("statement.mp4", tiny_video.read_bytes())},
    )
    assert response.status_code == 400
    assert "Evidence can only be added while the consent awaits verification." in response.content.decode()
    assert not Upload.objects.exists() and _stored_files(settings) == []


@pytest.mark.parametrize(
    "data,status,code",
    [
        (b"", 400, "upload_empty"),
        (b"\x00" * 4096, 415, "upload_unknown_type"),
        (None, 415, "upload_wrong_kind"),
    ],
    ids=["empty", "random-bytes", "png-renamed"],
)
def test_the_statement_api_refuses_with_a_4xx_and_a_message(
    texts: ClinicPeople, settings: Any, data: bytes | None, status: int, code: str
) -> None:
    """Issue 9 finding 11: the statement upload has an API answering 4xx with the message."""
    consent = _awaiting(texts)
    response = api_client(texts.clinician).post(
        f"/api/v1/consents/likeness/{consent.id}/evidence/",
        {"file": SimpleUploadedFile("statement.mp4", _png() if data is None else data)},
        format="multipart",
    )
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and body["message"]
    assert not Upload.objects.exists() and _stored_files(settings) == []


def test_the_statement_api_accepts_a_statement_and_attaches_it(texts: ClinicPeople, tiny_video: Path) -> None:
    """Issue 9 finding 11: the API counterpart of the page's upload."""
    consent = _awaiting(texts)
    response = api_client(texts.clinician).post(
        f"/api/v1/consents/likeness/{consent.id}/evidence/",
        {"file": SimpleUploadedFile("statement.mp4", tiny_video.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    consent.refresh_from_db()
    assert consent.evidence_upload is not None and consent.evidence_upload.purpose == "consent_statement"


def test_only_the_consenting_clinician_uploads_the_statement(texts: ClinicPeople, tiny_video: Path) -> None:
    consent = _awaiting(texts)
    response = api_client(texts.admin).post(
        f"/api/v1/consents/likeness/{consent.id}/evidence/",
        {"file": SimpleUploadedFile("statement.mp4", tiny_video.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 404
    assert not Upload.objects.exists()


@pytest.mark.parametrize("url", ["/api/v1/ledger/entries/", "/api/v1/members/"])
def test_a_page_size_beyond_any_database_integer_is_cut_to_the_largest_page(
    texts: ClinicPeople, url: str
) -> None:
    """Issue 9 finding 9 (audit of API input reaching a query): ?limit=10**23 was a 500 (the
    integer overflowed the database query)."""
    response = api_client(texts.compliance).get(url, {"limit": str(10**23)})
    assert response.status_code == 200
    keyset = url.startswith("/api/v1/ledger/")  # keyset pages carry no count (issue 16)
    assert set(response.json()) == {"next", "previous", "results"} | (set() if keyset else {"count"})
