"""Consent API and pages through real requests: roles, tenants, the error format, exports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consent.models import Disclosure, LedgerEntry, LikenessStatus
from tests.consent.conftest import active_consent
from tests.support import PASSWORD, api_client, signed_in_client, totp_now

SCOPE = {"topics": ["diabetes"], "audiences": ["patients"], "languages": ["en"], "channels": ["portal"]}


def test_a_clinician_signs_through_the_api_and_revokes(texts: Any) -> None:
    client = api_client(texts.clinician)
    created = client.post("/api/v1/consents/likeness/", {**SCOPE, "password": PASSWORD}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "awaiting_verification" and body["signature"]["printed_name"]
    verified = api_client(texts.admin).post(f"/api/v1/consents/likeness/{body['id']}/verify/")
    assert verified.status_code == 200 and verified.json()["status"] == "active"
    revoked = client.post(f"/api/v1/consents/likeness/{body['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_signing_without_the_password_gets_the_error_format(texts: Any) -> None:
    response = api_client(texts.clinician).post(
        "/api/v1/consents/likeness/", {**SCOPE, "password": "nope"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "signature_reauthentication_failed"


def test_a_malformed_scope_names_the_field(texts: Any) -> None:
    response = api_client(texts.clinician).post(
        "/api/v1/consents/likeness/", {**SCOPE, "topics": "diabetes", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400 and response.json()["message"].startswith("topics")


@pytest.mark.parametrize("role", ["clinic_admin", "patient", "compliance_officer"])
def test_only_clinicians_sign_likeness_consent(texts: Any, role: str) -> None:
    response = api_client(texts.by_role[role]).post(
        "/api/v1/consents/likeness/", {**SCOPE, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "role,sees",
    [("clinic_admin", True), ("compliance_officer", True), ("clinician", True), ("patient", False)],
)
def test_likeness_consents_are_visible_by_role_and_never_across_clinics(
    texts: Any, clinic_b: Any, role: str, sees: bool
) -> None:
    consent = active_consent(texts)
    own = api_client(texts.by_role[role]).get("/api/v1/consents/likeness/").json()["results"]
    other = api_client(clinic_b.by_role[role]).get("/api/v1/consents/likeness/").json()["results"]
    assert ([c["id"] for c in own] == [str(consent.id)]) == sees
    assert other == []


def test_another_clinics_admin_cannot_verify_through_the_api(texts: Any, clinic_b: Any) -> None:
    client = api_client(texts.clinician)
    consent_id = client.post(
        "/api/v1/consents/likeness/", {**SCOPE, "password": PASSWORD}, format="json"
    ).json()["id"]
    assert (
        api_client(clinic_b.admin).post(f"/api/v1/consents/likeness/{consent_id}/verify/").status_code == 404
    )


def test_the_ledger_api_serves_entries_proofs_and_heads(texts: Any, clinic_b: Any) -> None:
    active_consent(texts)
    from consent.ledger import ledger_sign_head

    ledger_sign_head()
    compliance = api_client(texts.compliance)
    entries = compliance.get("/api/v1/ledger/entries/?event_type=likeness_consent").json()["results"]
    assert {e["event_type"] for e in entries} >= {"likeness_consent.signed", "likeness_consent.activated"}
    seq = entries[0]["seq"]
    proof = compliance.get(f"/api/v1/ledger/entries/{seq}/proof/").json()
    assert proof["seq"] == seq and proof["path"]
    assert api_client(clinic_b.compliance).get(f"/api/v1/ledger/entries/{seq}/proof/").status_code == 404
    assert compliance.get("/api/v1/ledger/heads/").json()["heads"]
    assert compliance.get("/api/v1/ledger/verify/").json()["ok"] is True
    assert api_client(texts.clinician).get("/api/v1/ledger/verify/").status_code == 403
    assert compliance.get("/api/v1/ledger/consistency/?old=1").status_code == 200
    assert compliance.get("/api/v1/ledger/consistency/?old=x").json()["code"] == "invalid_input"


def test_a_patient_sees_only_entries_about_themselves(texts: Any) -> None:
    active_consent(texts)
    client = api_client(texts.patient)
    granted = client.post(
        "/api/v1/consents/patient/",
        {"kind": "patient_recording", "purpose": "Teaching", "password": PASSWORD},
        format="json",
    )
    assert granted.status_code == 201
    entries = client.get("/api/v1/ledger/entries/").json()["results"]
    assert [e["event_type"] for e in entries] == ["patient_consent.granted"]


def test_the_ledger_list_pages_by_keyset_newest_first_without_gaps_or_repeats(texts: Any) -> None:
    """Issue 16: offset pages counted and skipped rows, so a page got slower as the ledger grew."""
    from consent.ledger import ledger_append

    for n in range(7):
        ledger_append(event_type="test.paging", clinic_id=texts.clinic.id, subject=n + 1)
    client = api_client(texts.compliance)
    seen: list[int] = []
    url: str | None = "/api/v1/ledger/entries/?event_type=test.paging&limit=3"
    while url:
        page = client.get(url).json()
        assert "count" not in page
        seen += [entry["seq"] for entry in page["results"]]
        url = page["next"]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True) and len(set(seen)) == 7


def test_a_ledger_page_reads_exactly_as_the_declared_schema_fields_would_write_it(texts: Any) -> None:
    """Issue 16: the ledger list builds its entries directly for speed; the result must not drift
    from what the declared serializer fields (which the OpenAPI schema documents) would write."""
    from rest_framework import serializers

    from consent.api.views import LedgerEntryOut
    from consent.ledger import ledger_append
    from consent.models import LedgerEntry

    ledger_append(event_type="test.shape", clinic_id=texts.clinic.id, subject=texts.patient.pk)
    page = api_client(texts.compliance).get("/api/v1/ledger/entries/?event_type=test.shape").json()
    entry = LedgerEntry.objects.get(event_type="test.shape")
    by_fields = serializers.Serializer.to_representation(LedgerEntryOut(), entry)
    assert page["results"] == [json.loads(json.dumps(by_fields))]
    assert set(by_fields) == set(LedgerEntryOut().fields)


@pytest.mark.parametrize(
    "fmt,magic", [("pdf", b"%PDF"), ("csv", b"record,id"), ("json", b"{"), ("fhir", b"{")]
)
def test_exports_are_recorded_as_ledger_events_and_disclosures(texts: Any, fmt: str, magic: bytes) -> None:
    active_consent(texts)
    response = api_client(texts.compliance).post(
        "/api/v1/compliance/exports/",
        {"format": fmt, "recipient": "State auditor", "purpose": "Annual audit"},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    assert response.content.startswith(magic)
    import hashlib

    digest = hashlib.sha256(response.content).hexdigest()
    assert response["X-Content-SHA256"] == digest
    entry = LedgerEntry.objects.get(seq=int(response["X-Ledger-Seq"]))
    assert entry.event_type == f"export.{fmt}" and json.loads(entry.entry)["data"]["sha256"] == digest
    disclosure = Disclosure.objects.get()
    assert (disclosure.recipient, disclosure.file_sha256) == ("State auditor", digest)
    if fmt == "fhir":
        from consent.exports.fhir import bundle_validate

        bundle_validate(json.loads(response.content))


def test_an_r4b_fhir_export_validates(texts: Any) -> None:
    active_consent(texts)
    response = api_client(texts.admin).post(
        "/api/v1/compliance/exports/",
        {"format": "fhir", "fhir_version": "R4B", "recipient": "HIE", "purpose": "Exchange"},
        format="json",
    )
    from consent.exports.fhir import bundle_validate

    bundle_validate(json.loads(response.content), version="R4B")


def test_exports_need_a_recipient_and_an_oversight_role(texts: Any) -> None:
    assert (
        api_client(texts.compliance)
        .post(
            "/api/v1/compliance/exports/", {"format": "pdf", "recipient": "", "purpose": "x"}, format="json"
        )
        .status_code
        == 400
    )
    assert (
        api_client(texts.clinician)
        .post(
            "/api/v1/compliance/exports/", {"format": "pdf", "recipient": "r", "purpose": "x"}, format="json"
        )
        .status_code
        == 403
    )


def test_the_likeness_page_signs_and_revokes_on_the_same_page(texts: Any) -> None:
    client = signed_in_client(texts.clinician)
    page = client.get("/consent/likeness/")
    assert b"Consent to the use of my likeness" in page.content and b"Sign consent" in page.content
    response = client.post(
        "/consent/likeness/",
        {
            "topics": "diabetes",
            "audiences": "patients",
            "languages": "en",
            "channels": "portal",
            "valid_years": 2,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    page = client.get("/consent/likeness/")
    assert b"Awaiting verification" in page.content and b"Revoke my consent" in page.content
    consent = texts.clinician.likeness_consents.get()
    client.post(f"/consent/likeness/{consent.id}/revoke/", {"confirmed": "yes", "acknowledge": "on"})
    consent.refresh_from_db()
    assert consent.status == LikenessStatus.REVOKED
    assert b"likeness_consent.revoked" in client.get("/consent/likeness/").content


@pytest.mark.parametrize(
    "path,allowed",
    [
        ("/consent/likeness/", {"clinician"}),
        ("/consent/mine/", {"patient"}),
        ("/consent/admin/", {"clinic_admin"}),
        ("/compliance/", {"clinic_admin", "compliance_officer"}),
        ("/compliance/disclosures/", {"clinic_admin", "compliance_officer"}),
    ],
)
def test_consent_pages_by_role(texts: Any, path: str, allowed: set[str]) -> None:
    for role, user in texts.by_role.items():
        assert signed_in_client(user).get(path).status_code == (200 if role in allowed else 403), (path, role)


def test_a_timeline_of_another_clinics_clinician_is_not_found(texts: Any, clinic_b: Any) -> None:
    client = signed_in_client(texts.compliance)
    assert client.get(f"/compliance/clinicians/{texts.clinician.pk}/").status_code == 200
    assert client.get(f"/compliance/clinicians/{clinic_b.clinician.pk}/").status_code == 404


def test_the_console_shows_a_failed_integrity_check(texts: Any) -> None:
    active_consent(texts)
    from django.db import connection

    from consent.triggers import install, uninstall

    uninstall(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE consent_ledgerentry SET entry = REPLACE(entry, 'manual', 'automated') "
            "WHERE event_type = 'likeness_consent.activated'"
        )
    install(connection)
    page = signed_in_client(texts.compliance).get("/compliance/").content.decode()
    seq = LedgerEntry.objects.get(event_type="likeness_consent.activated").seq
    assert "FAILED" in page and f"at entry #{seq}" in page


def test_the_patient_page_grants_and_withdraws(texts: Any) -> None:
    client = signed_in_client(texts.patient)
    response = client.post(
        "/consent/mine/",
        {
            "kind": "patient_use",
            "purpose": "Teaching residents",
            "legal_basis": "explicit_consent",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    consent = texts.patient.patient_consents.get()
    client.post(f"/consent/mine/{consent.id}/withdraw/")
    consent.refresh_from_db()
    assert consent.status == "withdrawn"


def test_a_privileged_signer_needs_the_authenticator_code(texts: Any) -> None:
    # Clinicians rarely have TOTP, but when they do, signing asks for it too.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=texts.clinician, name="phone", confirmed=True)
    client = api_client(texts.clinician)
    refused = client.post("/api/v1/consents/likeness/", {**SCOPE, "password": PASSWORD}, format="json")
    assert refused.status_code == 403
    signed = client.post(
        "/api/v1/consents/likeness/",
        {**SCOPE, "password": PASSWORD, "otp": totp_now(texts.clinician)},
        format="json",
    )
    assert signed.status_code == 201 and signed.json()["signature"]["reauthenticated_with"] == "password+totp"
