"""FHIR export of consents: Bundles that validate, and the project's checks the library leaves out.

Framework-free: runs without Django (`pytest -p no:django tests/consent/test_fhir_export.py`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent.exports.fhir import STATUS_MAP, FhirExportError, bundle_validate, consent_bundle
from consent.exports.records import ConsentRecord, SignatureRecord

SIGNED_AT = datetime(2025, 3, 4, 9, 30, 15, tzinfo=UTC)
CLINICIAN_NAME = "Dr. Sam Rivera"
PATIENT_NAME = "Jordan Lee"


def _signature(signer_id: str, name: str, text_sha256: str, meaning: str) -> SignatureRecord:
    return SignatureRecord(
        id=f"sig-{signer_id}-{text_sha256[:4]}",
        signer_id=signer_id,
        printed_name=name,
        meaning=meaning,
        signed_at=SIGNED_AT,
        text_sha256=text_sha256,
        binding_sha256="b" * 64,
        reauthenticated_with="password+totp",
    )


def likeness_consent(**changes: Any) -> ConsentRecord:
    record = ConsentRecord(
        id="lk-1",
        kind="likeness",
        status="active",
        clinic_id="clinic-riverside",
        clinic_name="Riverside Family Clinic",
        subject_id="user-rivera",
        subject_display=CLINICIAN_NAME,
        subject_role="clinician",
        text_id="likeness-en",
        text_version=3,
        text_language="en",
        text_sha256="a" * 64,
        purpose="Synthetic patient-education videos in the clinic's own channels",
        legal_basis="consent",
        created_at=SIGNED_AT - timedelta(minutes=5),
        valid_from=SIGNED_AT,
        valid_until=SIGNED_AT + timedelta(days=365 * 2),
        granted_at=SIGNED_AT,
        revoked_at=None,
        topics=["diabetes", "vaccination"],
        audiences=["patients"],
        languages=["en", "es"],
        channels=["clinic-website", "waiting-room"],
        synthetic_voice_allowed=True,
        max_videos=20,
        compensation_terms="Flat fee per published video",
        representation="union representative",
        signature=_signature(
            "user-rivera", CLINICIAN_NAME, "a" * 64, "I consent to the use of my likeness as described"
        ),
        ledger_entry_seqs=[4, 5],
    )
    return replace(record, **changes)


def patient_consent(**changes: Any) -> ConsentRecord:
    record = ConsentRecord(
        id="pt-1",
        kind="patient_recording",
        status="granted",
        clinic_id="clinic-riverside",
        clinic_name="Riverside Family Clinic",
        subject_id="user-lee",
        subject_display=PATIENT_NAME,
        subject_role="patient",
        text_id="recording-en",
        text_version=1,
        text_language="en",
        text_sha256="c" * 64,
        purpose="Record this consultation for my medical file",
        legal_basis="explicit-consent",
        created_at=SIGNED_AT,
        valid_from=SIGNED_AT,
        valid_until=None,
        granted_at=SIGNED_AT,
        revoked_at=None,
        signature=_signature(
            "user-lee", PATIENT_NAME, "c" * 64, "I consent to this consultation being recorded"
        ),
        ledger_entry_seqs=[9],
    )
    return replace(record, **changes)


def sample_records() -> list[ConsentRecord]:
    later = SIGNED_AT + timedelta(days=30)
    return [
        likeness_consent(),
        likeness_consent(id="lk-2", status="revoked", revoked_at=later),
        likeness_consent(id="lk-3", status="expired", valid_until=later),
        likeness_consent(id="lk-4", status="awaiting_verification", signature=None, granted_at=None),
        patient_consent(),
        patient_consent(id="pt-2", kind="patient_use", status="withdrawn", revoked_at=later),
        patient_consent(id="pt-3", kind="patient_anonymization", status="expired", valid_until=later),
    ]


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def entry_index(bundle: dict[str, Any], resource_type: str) -> int:
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == resource_type)


def library_accepts(bundle: dict[str, Any], version: str) -> bool:
    from fhir.resources.bundle import Bundle as BundleR5
    from fhir.resources.R4B.bundle import Bundle as BundleR4B

    (BundleR5 if version == "R5" else BundleR4B).model_validate(bundle)
    return True


@pytest.fixture(params=["R5", "R4B"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bundle(version: str) -> dict[str, Any]:
    return consent_bundle(sample_records(), version=version, include_names=True, generated_at=SIGNED_AT)


def test_bundle_of_likeness_and_patient_consents_validates(bundle: dict[str, Any], version: str) -> None:
    bundle_validate(bundle, version=version)
    assert bundle["type"] == "collection"
    assert len(resources(bundle, "Consent")) == 7
    assert len(resources(bundle, "Provenance")) == 6  # the consent awaiting verification is unsigned
    assert len(resources(bundle, "Organization")) == 1
    assert len(resources(bundle, "Practitioner")) == 1
    assert len(resources(bundle, "Patient")) == 1


def test_bundle_is_plain_json(bundle: dict[str, Any]) -> None:
    assert json.loads(json.dumps(bundle)) == bundle


def test_same_records_give_the_same_bundle(version: str) -> None:
    first = consent_bundle(sample_records(), version=version, generated_at=SIGNED_AT)
    second = consent_bundle(sample_records(), version=version, generated_at=SIGNED_AT)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_candor_statuses_map_to_fhir_statuses(bundle: dict[str, Any], version: str) -> None:
    by_id = {c["identifier"][0]["value"]: c for c in resources(bundle, "Consent")}
    assert by_id["lk-1"]["status"] == "active"
    assert by_id["lk-2"]["status"] == "inactive"
    assert by_id["lk-3"]["status"] == "inactive"
    assert by_id["lk-4"]["status"] == ("draft" if version == "R5" else "proposed")
    assert by_id["pt-1"]["status"] == "active"
    assert by_id["pt-2"]["status"] == "inactive"
    candor_status = {
        ext["valueCode"] for ext in by_id["lk-2"]["extension"] if ext["url"].endswith("consent-candor-status")
    }
    assert candor_status == {"revoked"}


def test_every_candor_status_has_a_valid_code_in_both_versions() -> None:
    for candor, codes in STATUS_MAP.items():
        for version in ("R5", "R4B"):
            bundle = consent_bundle([likeness_consent(status=candor)], version=version)
            assert resources(bundle, "Consent")[0]["status"] == codes[version]


def test_r5_consent_uses_decision_grantor_and_controller() -> None:
    bundle = consent_bundle([likeness_consent()], version="R5")
    consent = resources(bundle, "Consent")[0]
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    assert consent["decision"] == "permit"
    assert consent["grantor"][0]["reference"] == urls["Practitioner"]
    assert consent["controller"][0]["reference"] == urls["Organization"]
    assert consent["period"] == {"start": "2025-03-04T09:30:15Z", "end": "2027-03-04T09:30:15Z"}
    assert consent["sourceAttachment"][0]["extension"][0]["valueString"] == "a" * 64


def test_r4b_consent_uses_scope_patient_and_provision_type() -> None:
    bundle = consent_bundle([patient_consent()], version="R4B")
    consent = resources(bundle, "Consent")[0]
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["patient"]["reference"] == bundle["entry"][entry_index(bundle, "Patient")]["fullUrl"]
    assert consent["provision"]["type"] == "permit"
    assert consent["dateTime"] == "2025-03-04T09:30:15Z"


def test_likeness_scope_is_carried_in_a_candor_extension(version: str) -> None:
    consent = resources(consent_bundle([likeness_consent()], version=version), "Consent")[0]
    provision = consent["provision"][0] if version == "R5" else consent["provision"]
    (scope,) = provision["extension"]
    assert scope["url"] == "https://fhir.candor.example/StructureDefinition/likeness-scope"
    parts = [(p["url"], next(v for k, v in p.items() if k.startswith("value"))) for p in scope["extension"]]
    assert ("topic", "diabetes") in parts
    assert ("language", "es") in parts
    assert ("channel", "waiting-room") in parts
    assert ("syntheticVoice", True) in parts
    assert ("maxVideos", 20) in parts


def test_provenance_targets_the_consent_and_carries_the_signature(bundle: dict[str, Any]) -> None:
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for provenance in resources(bundle, "Provenance"):
        assert urls[provenance["target"][0]["reference"]]["resourceType"] == "Consent"
        assert provenance["recorded"] == "2025-03-04T09:30:15Z"
        (signature,) = provenance["signature"]
        assert signature["who"]["reference"] == provenance["agent"][0]["who"]["reference"]
        parts = {p["url"]: p for p in signature["extension"][0]["extension"]}
        assert parts["bindingSha256"]["valueString"] == "b" * 64
        assert parts["meaning"]["valueString"].startswith("I consent")


def test_names_are_omitted_when_not_requested(version: str) -> None:
    bundle = consent_bundle(sample_records(), version=version, include_names=False)
    text = json.dumps(bundle)
    assert CLINICIAN_NAME not in text
    assert PATIENT_NAME not in text
    assert "printedName" not in text
    assert "Riverside Family Clinic" in text  # the clinic is not a person
    assert all("name" not in p for p in resources(bundle, "Patient") + resources(bundle, "Practitioner"))


def test_names_are_included_when_requested(bundle: dict[str, Any]) -> None:
    assert resources(bundle, "Practitioner")[0]["name"] == [{"text": CLINICIAN_NAME}]
    assert PATIENT_NAME in json.dumps(resources(bundle, "Provenance"))


def test_clinic_reference_becomes_the_organization_full_url() -> None:
    url = "https://fhir.riverside.example/fhir/Organization/rfc-1"
    bundle = consent_bundle([likeness_consent()], clinic_reference=url)
    organization = bundle["entry"][entry_index(bundle, "Organization")]
    assert organization["fullUrl"] == url
    assert organization["resource"]["id"] == "rfc-1"
    assert resources(bundle, "Consent")[0]["controller"][0]["reference"] == url


def test_clinic_reference_refuses_records_of_two_clinics() -> None:
    records = [likeness_consent(), patient_consent(clinic_id="clinic-other")]
    with pytest.raises(FhirExportError, match="clinic_reference"):
        consent_bundle(records, clinic_reference="https://fhir.riverside.example/Organization/rfc-1")


def test_naive_datetimes_in_records_are_refused() -> None:
    with pytest.raises(FhirExportError, match=r"records\[0\].valid_from"):
        consent_bundle([likeness_consent(valid_from=datetime(2025, 1, 1))])


def test_unknown_candor_status_is_refused() -> None:
    with pytest.raises(FhirExportError, match=r"records\[0\].status"):
        consent_bundle([likeness_consent(status="paused")])


def test_signature_over_another_text_is_refused() -> None:
    with pytest.raises(FhirExportError, match="text_sha256"):
        consent_bundle([likeness_consent(text_sha256="d" * 64)])


def test_unknown_version_is_refused() -> None:
    with pytest.raises(FhirExportError, match="version"):
        consent_bundle([likeness_consent()], version="R4")


# The project's own checks. Each broken bundle starts from a valid one.


def broken(bundle: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(bundle)


def test_library_alone_accepts_invalid_consent_status(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    index = entry_index(bad, "Consent")
    bad["entry"][index]["resource"]["status"] = "revoked"
    assert library_accepts(bad, version)
    with pytest.raises(FhirExportError, match=rf"Bundle.entry\[{index}\].resource.status: 'revoked'"):
        bundle_validate(bad, version=version)


def test_r5_decision_outside_the_value_set_is_rejected() -> None:
    bad = broken(consent_bundle([likeness_consent()], version="R5"))
    index = entry_index(bad, "Consent")
    bad["entry"][index]["resource"]["decision"] = "maybe"
    assert library_accepts(bad, "R5")
    with pytest.raises(FhirExportError, match=rf"entry\[{index}\].resource.decision: 'maybe'"):
        bundle_validate(bad, version="R5")


def test_r4b_provision_type_outside_the_value_set_is_rejected() -> None:
    bad = broken(consent_bundle([likeness_consent()], version="R4B"))
    index = entry_index(bad, "Consent")
    bad["entry"][index]["resource"]["provision"]["provision"] = [{"type": "allow"}]
    assert library_accepts(bad, "R4B")
    with pytest.raises(
        FhirExportError, match=rf"entry\[{index}\].resource.provision.provision\[0\].type: 'allow'"
    ):
        bundle_validate(bad, version="R4B")


def test_r4b_status_of_r5_only_is_rejected() -> None:
    bad = broken(consent_bundle([likeness_consent()], version="R4B"))
    resources(bad, "Consent")[0]["status"] = "not-done"
    with pytest.raises(FhirExportError, match="not a R4B Consent.status code"):
        bundle_validate(bad, version="R4B")


def test_dangling_reference_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    index = entry_index(bad, "Provenance")
    bad["entry"][index]["resource"]["target"][0]["reference"] = (
        "urn:uuid:00000000-0000-0000-0000-000000000000"
    )
    assert library_accepts(bad, version)
    with pytest.raises(
        FhirExportError, match=rf"entry\[{index}\].resource.target\[0\].reference: .* does not resolve"
    ):
        bundle_validate(bad, version=version)


def test_reference_to_the_wrong_resource_type_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    index = entry_index(bad, "Provenance")
    organization_url = bad["entry"][entry_index(bad, "Organization")]["fullUrl"]
    bad["entry"][index]["resource"]["target"][0] = {"reference": organization_url}
    assert library_accepts(bad, version)
    with pytest.raises(FhirExportError, match=r"Provenance.target may not point to a Organization"):
        bundle_validate(bad, version=version)


def test_grantor_pointing_to_a_consent_is_rejected() -> None:
    bad = broken(consent_bundle([likeness_consent(), patient_consent()], version="R5"))
    consents = resources(bad, "Consent")
    other_url = next(e["fullUrl"] for e in bad["entry"] if e["resource"] is consents[1])
    consents[0]["grantor"] = [{"reference": other_url}]
    with pytest.raises(FhirExportError, match="Consent.grantor may not point to a Consent"):
        bundle_validate(bad, version="R5")


def test_reference_type_that_disagrees_with_the_target_is_rejected(
    bundle: dict[str, Any], version: str
) -> None:
    bad = broken(bundle)
    provenance = resources(bad, "Provenance")[0]
    provenance["agent"][0]["who"]["type"] = "Organization"
    with pytest.raises(FhirExportError, match=r"agent\[0\].who.type: 'Organization' but the target is a"):
        bundle_validate(bad, version=version)


def test_duplicate_full_url_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    bad["entry"][2]["fullUrl"] = bad["entry"][1]["fullUrl"]
    assert library_accepts(bad, version)
    with pytest.raises(FhirExportError, match=r"Bundle.entry\[2\].fullUrl: .* is not unique"):
        bundle_validate(bad, version=version)


def test_naive_datetime_in_a_bundle_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    index = entry_index(bad, "Provenance")
    bad["entry"][index]["resource"]["recorded"] = datetime(2025, 3, 4, 9, 30)
    # fhir.resources 8.x rejects this too; either way the message names the element.
    with pytest.raises(FhirExportError, match=rf"entry\[{index}\].resource.recorded: .*timezone"):
        bundle_validate(bad, version=version)


def test_empty_array_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    resources(bad, "Consent")[0]["identifier"] = []
    assert library_accepts(bad, version)
    with pytest.raises(FhirExportError, match="empty values"):
        bundle_validate(bad, version=version)


def test_r4b_privacy_consent_without_patient_is_rejected() -> None:
    bad = broken(consent_bundle([patient_consent()], version="R4B"))
    del resources(bad, "Consent")[0]["patient"]
    assert library_accepts(bad, "R4B")
    with pytest.raises(FhirExportError, match="ppc-2"):
        bundle_validate(bad, version="R4B")


def test_structural_errors_from_the_library_name_the_path() -> None:
    bad = broken(consent_bundle([likeness_consent()], version="R5"))
    resources(bad, "Consent")[0]["patient"] = {"reference": "Patient/1"}  # an R4B element
    with pytest.raises(FhirExportError, match=r"Bundle.entry\[\d\].resource.patient"):
        bundle_validate(bad, version="R5")


def test_r4b_bundle_does_not_validate_as_r5() -> None:
    with pytest.raises(FhirExportError):
        bundle_validate(consent_bundle([patient_consent()], version="R4B"), version="R5")


def test_zoneless_timestamp_the_library_cannot_see_is_rejected(bundle: dict[str, Any], version: str) -> None:
    bad = broken(bundle)
    resources(bad, "Consent")[0]["extension"].append(
        {"url": "https://fhir.candor.example/StructureDefinition/note", "valueString": "2025-03-04T09:30:00"}
    )
    assert library_accepts(bad, version)
    with pytest.raises(FhirExportError, match="has no timezone"):
        bundle_validate(bad, version=version)
