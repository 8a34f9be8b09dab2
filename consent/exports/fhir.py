"""Consent records as an HL7 FHIR Bundle (Consent + Provenance), R5 by default and R4B on request.

The Bundle is a `collection`: a set of resources handed over for the receiver to keep, with no
processing semantics. A `document` Bundle would need a Composition as its first entry and would present
the export as one attested clinical document, which it is not; `transaction`/`batch` would ask the
receiver to write the resources into its own server.

Candor status → FHIR Consent.status (the original Candor status is kept in an extension, because the
mapping is lossy):

    Candor                 R5          R4B
    draft                  draft       draft
    awaiting_verification  draft       proposed
    active                 active      active
    granted                active      active
    revoked                inactive    inactive
    withdrawn              inactive    inactive
    expired                inactive    inactive
    superseded             inactive    inactive

Every Candor consent grants something, so the R5 `decision` / R4B `provision.type` is always `permit`;
a revocation ends the consent (status `inactive`), it does not turn it into a `deny`.

`fhir.resources` checks structure and datatypes but not required code bindings (it accepts
`status: "revoked"`) nor where references point, so `bundle_validate` adds those checks.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consent.exports.records import ConsentRecord, SignatureRecord

# Canonical base of Candor's own code systems, identifier systems and extensions.
CANDOR_CANONICAL = "https://fhir.candor.example"

FHIR_VERSIONS = ("R5", "R4B")

# Deterministic ids: the same consent exports to the same fullUrl every time, so receivers can match
# re-exports and the file's hash depends only on the records.
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, CANDOR_CANONICAL)

_CS = f"{CANDOR_CANONICAL}/CodeSystem"
_SD = f"{CANDOR_CANONICAL}/StructureDefinition"
_SID = f"{CANDOR_CANONICAL}/sid"
_HL7_CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
_HL7_CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
_HL7_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_HL7_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_LOINC = "http://loinc.org"
# ASTM E1762 signature type "Consent Signature".
_ASTM_SIGNATURE_TYPE = {
    "system": "urn:iso-astm:E1762-95:2013",
    "code": "1.2.840.10065.1.12.1.7",
    "display": "Consent Signature",
}

STATUS_MAP: Mapping[str, Mapping[str, str]] = {
    "draft": {"R5": "draft", "R4B": "draft"},
    "awaiting_verification": {"R5": "draft", "R4B": "proposed"},
    "active": {"R5": "active", "R4B": "active"},
    "granted": {"R5": "active", "R4B": "active"},
    "revoked": {"R5": "inactive", "R4B": "inactive"},
    "withdrawn": {"R5": "inactive", "R4B": "inactive"},
    "expired": {"R5": "inactive", "R4B": "inactive"},
    "superseded": {"R5": "inactive", "R4B": "inactive"},
}

# Required bindings the library does not enforce.
CONSENT_STATUS_CODES: Mapping[str, frozenset[str]] = {
    "R5": frozenset({"draft", "active", "inactive", "not-done", "entered-in-error", "unknown"}),
    "R4B": frozenset({"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}),
}
CONSENT_DECISION_CODES = frozenset({"deny", "permit"})
BUNDLE_TYPE_CODES: Mapping[str, frozenset[str]] = {
    "R5": frozenset(
        {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
            "subscription-notification",
        }
    ),
    "R4B": frozenset(
        {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    ),
}

_CONSENT_GRANTOR = frozenset(
    {
        "CareTeam",
        "HealthcareService",
        "Organization",
        "Patient",
        "Practitioner",
        "RelatedPerson",
        "PractitionerRole",
    }
)
_PROVISION_ACTOR = frozenset(
    {
        "Device",
        "Group",
        "CareTeam",
        "Organization",
        "Patient",
        "Practitioner",
        "RelatedPerson",
        "PractitionerRole",
    }
)
_CONSENT_SOURCE = frozenset({"Consent", "DocumentReference", "Contract", "QuestionnaireResponse"})
_R4B_AGENT = frozenset(
    {"Practitioner", "PractitionerRole", "RelatedPerson", "Patient", "Device", "Organization"}
)

# Allowed target types per element, keyed by "<resourceType>.<element path without indices>".
# Taken from the element definitions of each version; Provenance.target is narrowed from Any to
# Consent because a Candor export only ever carries provenance of consents.
REFERENCE_TARGETS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "R5": {
        "Consent.subject": frozenset({"Patient", "Practitioner", "Group"}),
        "Consent.grantor": _CONSENT_GRANTOR,
        "Consent.grantee": _CONSENT_GRANTOR,
        "Consent.manager": frozenset({"HealthcareService", "Organization", "Patient", "Practitioner"}),
        "Consent.controller": frozenset({"HealthcareService", "Organization", "Patient", "Practitioner"}),
        "Consent.sourceReference": _CONSENT_SOURCE,
        "Consent.policyText": frozenset({"DocumentReference"}),
        "Consent.verification.verifiedBy": frozenset({"Organization", "Practitioner", "PractitionerRole"}),
        "Consent.verification.verifiedWith": frozenset({"Patient", "RelatedPerson"}),
        "Consent.provision.actor.reference": _PROVISION_ACTOR,
        "Provenance.target": frozenset({"Consent"}),
        "Provenance.patient": frozenset({"Patient"}),
        "Provenance.location": frozenset({"Location"}),
        "Provenance.agent.who": frozenset(
            {
                "Practitioner",
                "PractitionerRole",
                "Organization",
                "CareTeam",
                "Patient",
                "Device",
                "RelatedPerson",
            }
        ),
        "Provenance.agent.onBehalfOf": frozenset(
            {"Practitioner", "PractitionerRole", "Organization", "CareTeam", "Patient"}
        ),
        "Provenance.signature.who": _R4B_AGENT,
        "Provenance.signature.onBehalfOf": _R4B_AGENT,
    },
    "R4B": {
        "Consent.patient": frozenset({"Patient"}),
        "Consent.performer": frozenset(
            {"Organization", "Patient", "Practitioner", "RelatedPerson", "PractitionerRole"}
        ),
        "Consent.organization": frozenset({"Organization"}),
        "Consent.sourceReference": _CONSENT_SOURCE,
        "Consent.verification.verifiedWith": frozenset({"Patient", "RelatedPerson"}),
        "Consent.provision.actor.reference": _PROVISION_ACTOR,
        "Provenance.target": frozenset({"Consent"}),
        "Provenance.location": frozenset({"Location"}),
        "Provenance.agent.who": _R4B_AGENT,
        "Provenance.agent.onBehalfOf": _R4B_AGENT,
        "Provenance.signature.who": _R4B_AGENT,
        "Provenance.signature.onBehalfOf": _R4B_AGENT,
    },
}

# FHIR dateTime/instant with a time part; the zone group is what must not be missing.
_DATETIME_WITH_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?P<zone>Z|[+-]\d{2}:\d{2})?"
)
_RESTFUL_ORGANIZATION_URL = re.compile(r"https?://\S+/Organization/(?P<id>[A-Za-z0-9\-.]{1,64})")


class FhirExportError(ValueError):
    """A consent could not be exported, or a Bundle failed validation; the message names the path."""


@dataclass(frozen=True)
class _Kind:
    """How one Candor consent kind is expressed in FHIR."""

    subject_role: str
    display: str
    hl7_action: str
    action: str
    action_display: str


_KINDS: Mapping[str, _Kind] = {
    "likeness": _Kind(
        "clinician",
        "Likeness consent",
        "use",
        "synthesize-likeness",
        "Use the clinician's face and voice in synthetic clinic videos",
    ),
    "patient_recording": _Kind(
        "patient",
        "Consent to record a consultation",
        "collect",
        "record-consultation",
        "Record a consultation",
    ),
    "patient_anonymization": _Kind(
        "patient",
        "Consent to anonymize a recording",
        "use",
        "anonymize-recording",
        "Anonymize a consultation recording",
    ),
    "patient_use": _Kind(
        "patient",
        "Consent to use an anonymized video",
        "use",
        "use-anonymized-video",
        "Use an anonymized video for the stated purpose",
    ),
}
_ROLE_RESOURCE = {"clinician": "Practitioner", "patient": "Patient"}


def _check_version(version: str) -> None:
    if version not in FHIR_VERSIONS:
        raise FhirExportError(f"version: {version!r} is not one of {', '.join(FHIR_VERSIONS)}")


def _fhir_datetime(value: datetime, path: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise FhirExportError(f"{path}: datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _extension(name: str, value_type: str, value: Any) -> dict[str, Any]:
    return {"url": f"{_SD}/{name}", f"value{value_type}": value}


class _BundleBuilder:
    """Collects entries, creating each party (clinic, clinician, patient) once."""

    def __init__(self, *, version: str, include_names: bool, clinic_reference: str | None) -> None:
        self.version = version
        self.include_names = include_names
        self.clinic_reference = clinic_reference
        self.entries: list[dict[str, Any]] = []
        self._parties: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, resource_type: str, key: str, resource: dict[str, Any], full_url: str | None = None) -> str:
        resource_id = str(uuid.uuid5(_UUID_NAMESPACE, f"{resource_type}:{key}"))
        if full_url is None:
            full_url = f"urn:uuid:{resource_id}"
        else:
            match = _RESTFUL_ORGANIZATION_URL.fullmatch(full_url)
            assert match is not None  # checked by consent_bundle before any entry is added
            resource_id = match["id"]
        self.entries.append(
            {"fullUrl": full_url, "resource": {"resourceType": resource_type, "id": resource_id, **resource}}
        )
        return full_url

    def party(self, resource_type: str, key: str, resource: dict[str, Any], display: str) -> dict[str, Any]:
        """A Reference to the party, adding its entry the first time it is seen."""
        if (resource_type, key) not in self._parties:
            full_url = self.clinic_reference if resource_type == "Organization" else None
            url = self.add(resource_type, key, resource, full_url)
            self._parties[resource_type, key] = {"reference": url, "type": resource_type}
        reference = dict(self._parties[resource_type, key])
        if display:
            reference["display"] = display
        return reference

    def clinic(self, record: ConsentRecord) -> dict[str, Any]:
        # The clinic's name is not personal data, so it is exported even when people are not named.
        resource = {
            "identifier": [{"system": f"{_SID}/clinic", "value": record.clinic_id}],
            "name": record.clinic_name,
        }
        return self.party("Organization", record.clinic_id, resource, record.clinic_name)

    def person(self, resource_type: str, person_id: str, name: str) -> dict[str, Any]:
        resource: dict[str, Any] = {"identifier": [{"system": f"{_SID}/user", "value": person_id}]}
        if self.include_names and name:
            resource["name"] = [{"text": name}]
        return self.party(resource_type, person_id, resource, name if self.include_names else "")


def _period(record: ConsentRecord, path: str) -> dict[str, str]:
    period: dict[str, str] = {}
    if record.valid_from is not None:
        period["start"] = _fhir_datetime(record.valid_from, f"{path}.valid_from")
    if record.valid_until is not None:
        period["end"] = _fhir_datetime(record.valid_until, f"{path}.valid_until")
    return period


def _scope_extension(record: ConsentRecord) -> dict[str, Any] | None:
    """Candor's likeness scope as one complex extension; FHIR has no elements for these."""
    parts: list[dict[str, Any]] = []
    parts += [{"url": "topic", "valueString": topic} for topic in record.topics]
    parts += [{"url": "audience", "valueString": audience} for audience in record.audiences]
    parts += [{"url": "language", "valueCode": language} for language in record.languages]
    parts += [{"url": "channel", "valueString": channel} for channel in record.channels]
    if record.kind == "likeness":
        parts.append({"url": "syntheticVoice", "valueBoolean": record.synthetic_voice_allowed})
    if record.max_videos is not None:
        parts.append({"url": "maxVideos", "valueUnsignedInt": record.max_videos})
    if not parts:
        return None
    return {"url": f"{_SD}/likeness-scope", "extension": parts}


def _consent_extensions(record: ConsentRecord, path: str) -> list[dict[str, Any]]:
    extensions = [
        _extension("consent-candor-status", "Code", record.status),
        _extension("consent-purpose-text", "String", record.purpose),
    ]
    if record.revoked_at is not None:
        extensions.append(
            _extension(
                "consent-revoked-at", "DateTime", _fhir_datetime(record.revoked_at, f"{path}.revoked_at")
            )
        )
    if record.compensation_terms:
        extensions.append(_extension("likeness-compensation-terms", "String", record.compensation_terms))
    if record.representation:
        # California AB 2602: whether the clinician was represented when granting the rights.
        extensions.append(_extension("likeness-representation", "String", record.representation))
    extensions += [_extension("ledger-entry-seq", "Integer", seq) for seq in record.ledger_entry_seqs]
    return extensions


def _source_attachment(record: ConsentRecord) -> dict[str, Any]:
    # Attachment.hash is defined as SHA-1, so the SHA-256 of the text shown goes in an extension.
    return {
        "contentType": "text/plain",
        "language": record.text_language,
        "title": f"Consent text {record.text_id} version {record.text_version}",
        "extension": [_extension("consent-text-sha256", "String", record.text_sha256)],
    }


def _category(record: ConsentRecord, kind: _Kind) -> list[dict[str, Any]]:
    codings: list[dict[str, str]] = [
        {"system": f"{_CS}/consent-kind", "code": record.kind, "display": kind.display}
    ]
    if kind.subject_role == "patient":
        codings.insert(0, {"system": _LOINC, "code": "59284-0"})
    return [{"coding": codings, "text": kind.display}]


def _provision(record: ConsentRecord, kind: _Kind, path: str) -> dict[str, Any]:
    provision: dict[str, Any] = {
        "action": [
            {
                "coding": [
                    {"system": _HL7_CONSENT_ACTION, "code": kind.hl7_action},
                    {"system": f"{_CS}/consent-action", "code": kind.action, "display": kind.action_display},
                ]
            }
        ],
        "purpose": [{"system": f"{_CS}/consent-kind", "code": record.kind, "display": kind.display}],
    }
    period = _period(record, path)
    if period:
        provision["period"] = period
    scope = _scope_extension(record)
    if scope is not None:
        provision["extension"] = [scope]
    return provision


def _consent_r5(
    record: ConsentRecord, kind: _Kind, subject: dict[str, Any], clinic: dict[str, Any], path: str
) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "extension": _consent_extensions(record, path),
        "identifier": [{"system": f"{_SID}/consent", "value": record.id}],
        "status": STATUS_MAP[record.status]["R5"],
        "category": _category(record, kind),
        "subject": subject,
        # Consent.date is a FHIR date: the UTC day of the grant.
        "date": _fhir_datetime(record.granted_at or record.created_at, f"{path}.granted_at")[:10],
        "grantor": [subject],
        "grantee": [clinic],
        "controller": [clinic],
        "sourceAttachment": [_source_attachment(record)],
        "regulatoryBasis": [{"coding": [{"system": f"{_CS}/legal-basis", "code": record.legal_basis}]}],
        "decision": "permit",
        "provision": [_provision(record, kind, path)],
    }
    period = _period(record, path)
    if period:
        consent["period"] = period
    return consent


def _consent_r4b(
    record: ConsentRecord, kind: _Kind, subject: dict[str, Any], clinic: dict[str, Any], path: str
) -> dict[str, Any]:
    scope: dict[str, Any]
    if kind.subject_role == "patient":
        scope = {"coding": [{"system": _HL7_CONSENT_SCOPE, "code": "patient-privacy"}]}
    else:
        # The scope binding is extensible and none of its codes (privacy, research, treatment, ADR)
        # describes rights to a clinician's likeness; a patient-privacy scope would also demand a patient.
        scope = {"coding": [{"system": f"{_CS}/consent-scope", "code": "likeness"}], "text": kind.display}
    extensions = _consent_extensions(record, path)
    extensions.append(_extension("consent-legal-basis", "Code", record.legal_basis))
    consent: dict[str, Any] = {
        "extension": extensions,
        "identifier": [{"system": f"{_SID}/consent", "value": record.id}],
        "status": STATUS_MAP[record.status]["R4B"],
        "scope": scope,
        "category": _category(record, kind),
        "dateTime": _fhir_datetime(record.granted_at or record.created_at, f"{path}.granted_at"),
        "performer": [subject],
        "organization": [clinic],
        "sourceAttachment": _source_attachment(record),
        # ppc-1 asks for a policy or a policyRule; the person opted in to what the text describes.
        "policyRule": {"coding": [{"system": _HL7_ACT_CODE, "code": "OPTIN"}]},
        "provision": {"type": "permit", **_provision(record, kind, path)},
    }
    if kind.subject_role == "patient":
        consent["patient"] = subject
    return consent


def _provenance(
    builder: _BundleBuilder,
    record: ConsentRecord,
    signature: SignatureRecord,
    consent_url: str,
    subject: dict[str, Any],
    clinic: dict[str, Any],
    path: str,
) -> dict[str, Any]:
    if signature.text_sha256 != record.text_sha256:
        # A signature covers exactly one text version; exporting it against another would misstate it.
        raise FhirExportError(f"{path}.signature.text_sha256: does not match the consent text's hash")
    if signature.signer_id == record.subject_id:
        signer = subject
    else:
        # Someone other than the subject signed (clinic staff recording it); records carry no role
        # for them, and clinic staff are Practitioners.
        signer = builder.person("Practitioner", signature.signer_id, signature.printed_name)
    signed_at = _fhir_datetime(signature.signed_at, f"{path}.signature.signed_at")
    manifestation: list[dict[str, Any]] = []
    if builder.include_names:
        manifestation.append({"url": "printedName", "valueString": signature.printed_name})
    manifestation += [
        {"url": "meaning", "valueString": signature.meaning},
        {"url": "textSha256", "valueString": signature.text_sha256},
        {"url": "bindingSha256", "valueString": signature.binding_sha256},
        {"url": "reauthentication", "valueCode": signature.reauthenticated_with},
        {"url": "signatureId", "valueString": signature.id},
    ]
    provenance: dict[str, Any] = {
        "target": [{"reference": consent_url, "type": "Consent"}],
        "occurredDateTime": signed_at,
        "recorded": signed_at,
        "activity": {
            "coding": [{"system": f"{_CS}/provenance-activity", "code": "consent-signature"}],
            "text": "Electronic signature of the consent",
        },
        "agent": [
            {"type": {"coding": [{"system": _HL7_PARTICIPANT_TYPE, "code": "author"}]}, "who": signer},
            {"type": {"coding": [{"system": _HL7_PARTICIPANT_TYPE, "code": "custodian"}]}, "who": clinic},
        ],
        "signature": [
            {
                # 21 CFR Part 11 §11.50: printed name, date and time, and meaning; §11.70: the hash
                # binding the signature to this record and text.
                "extension": [{"url": f"{_SD}/signature-manifestation", "extension": manifestation}],
                "type": [_ASTM_SIGNATURE_TYPE],
                "when": signed_at,
                "who": signer,
            }
        ],
    }
    if builder.version == "R5" and record.subject_role == "patient":
        provenance["patient"] = subject
    return provenance


def consent_bundle(
    records: Sequence[ConsentRecord],
    *,
    version: str = "R5",
    include_names: bool = False,
    clinic_reference: str | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Export consents as a validated FHIR `collection` Bundle of Consent and Provenance resources.

    Each record becomes a Consent; a signed record also gets a Provenance whose target is the
    Consent, whose agent is the signer and whose signature carries the Part 11 manifestation and
    binding hash. The clinic is an Organization, clinicians are Practitioners and patients are
    Patients, each once per Bundle; people are named only when `include_names` is true.

    `clinic_reference` is the absolute URL of the clinic's Organization on the clinic's own FHIR
    server (`https://…/Organization/<id>`); it becomes that entry's fullUrl so the receiver can match
    it, and then every record must belong to that one clinic. `generated_at` becomes Bundle.timestamp.
    Raises FhirExportError for records that cannot be expressed faithfully.
    """
    _check_version(version)
    if clinic_reference is not None:
        if _RESTFUL_ORGANIZATION_URL.fullmatch(clinic_reference) is None:
            raise FhirExportError(
                f"clinic_reference: {clinic_reference!r} is not an https://…/Organization/<id> URL"
            )
        clinics = {record.clinic_id for record in records}
        if len(clinics) > 1:
            raise FhirExportError(f"clinic_reference: records belong to {len(clinics)} clinics, not one")

    builder = _BundleBuilder(version=version, include_names=include_names, clinic_reference=clinic_reference)
    for index, record in enumerate(records):
        path = f"records[{index}]"
        kind = _KINDS.get(record.kind)
        if kind is None:
            raise FhirExportError(f"{path}.kind: unknown consent kind {record.kind!r}")
        if record.status not in STATUS_MAP:
            raise FhirExportError(f"{path}.status: unknown Candor status {record.status!r}")
        if record.subject_role != kind.subject_role:
            raise FhirExportError(
                f"{path}.subject_role: a {record.kind} consent is given by a {kind.subject_role}"
            )

        clinic = builder.clinic(record)
        subject = builder.person(
            _ROLE_RESOURCE[record.subject_role], record.subject_id, record.subject_display
        )
        build = _consent_r5 if version == "R5" else _consent_r4b
        consent_url = builder.add("Consent", record.id, build(record, kind, subject, clinic, path))
        if record.signature is not None:
            provenance = _provenance(builder, record, record.signature, consent_url, subject, clinic, path)
            builder.add("Provenance", f"{record.id}:{record.signature.id}", provenance)

    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if generated_at is not None:
        bundle["timestamp"] = _fhir_datetime(generated_at, "generated_at")
    if builder.entries:
        bundle["entry"] = builder.entries
    # Parties and codings are shared between entries while building; the caller gets a tree with no
    # aliasing, so editing one reference can never change another.
    bundle = json.loads(json.dumps(bundle))
    bundle_validate(bundle, version=version)
    return bundle


def _path(location: Sequence[str | int]) -> str:
    path = "Bundle"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _library_validate(bundle: Mapping[str, Any], version: str) -> None:
    # Imported here: loading the model classes takes a noticeable moment and most callers never export.
    import pydantic
    from fhir.resources.bundle import Bundle as BundleR5
    from fhir.resources.R4B.bundle import Bundle as BundleR4B

    model = BundleR5 if version == "R5" else BundleR4B
    try:
        model.model_validate(bundle)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        raise FhirExportError(f"{_path(first['loc'])}: {first['msg']}") from error


def _walk(node: Any, path: str, element: str) -> Iterator[tuple[Any, str, str]]:
    """Yield (value, display path with indices, element path without indices) for every node."""
    yield node, path, element
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{element}.{key}"
            # Nested provisions share their parent's rules.
            while "provision.provision" in child:
                child = child.replace("provision.provision", "provision")
            yield from _walk(value, f"{path}.{key}", child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]", element)


def _check_json_shape(entry_path: str, resource: Mapping[str, Any]) -> None:
    for value, path, _ in _walk(resource, entry_path, ""):
        # FHIR JSON never carries empty arrays, objects or strings; the library lets them through.
        if isinstance(value, list | dict | str) and len(value) == 0:
            raise FhirExportError(f"{path}: empty values are not allowed in FHIR JSON")
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise FhirExportError(f"{path}: datetime has no timezone")
        if isinstance(value, str):
            match = _DATETIME_WITH_TIME.fullmatch(value)
            if match is not None and match["zone"] is None:
                raise FhirExportError(f"{path}: dateTime {value!r} has no timezone")


def _provisions(provisions: Any, path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    items = provisions if isinstance(provisions, list) else [provisions]
    for index, provision in enumerate(items):
        here = f"{path}[{index}]" if isinstance(provisions, list) else path
        if isinstance(provision, Mapping):
            yield provision, here
            if "provision" in provision:
                yield from _provisions(provision["provision"], f"{here}.provision")


def _check_consent_codes(consent: Mapping[str, Any], path: str, version: str) -> None:
    allowed = CONSENT_STATUS_CODES[version]
    status = consent.get("status")
    if status not in allowed:
        raise FhirExportError(
            f"{path}.status: {status!r} is not a {version} Consent.status code ({' | '.join(sorted(allowed))})"
        )
    if "decision" in consent and consent["decision"] not in CONSENT_DECISION_CODES:
        raise FhirExportError(f"{path}.decision: {consent['decision']!r} is not deny | permit")
    for provision, provision_path in _provisions(consent.get("provision", []), f"{path}.provision"):
        if "type" in provision and provision["type"] not in CONSENT_DECISION_CODES:
            raise FhirExportError(f"{provision_path}.type: {provision['type']!r} is not deny | permit")
    if version == "R4B":
        # Invariants ppc-1 to ppc-5, which the library does not evaluate.
        if "policy" not in consent and "policyRule" not in consent:
            raise FhirExportError(f"{path}: a Consent needs a policy or a policyRule (ppc-1)")
        scope_codes = {
            coding.get("code")
            for coding in consent.get("scope", {}).get("coding", [])
            if coding.get("system") == _HL7_CONSENT_SCOPE
        }
        needs_patient = scope_codes & {"patient-privacy", "research", "adr", "treatment"}
        if needs_patient and "patient" not in consent:
            raise FhirExportError(
                f"{path}.patient: required when the scope is {min(needs_patient)} (ppc-2..5)"
            )


def _resolve(
    reference: str, by_url: Mapping[str, Mapping[str, Any]], by_type_id: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    if reference in by_url:
        return by_url[reference]
    return by_type_id.get(reference)


def bundle_validate(bundle: Mapping[str, Any], *, version: str = "R5") -> None:
    """Validate a Bundle with `fhir.resources` and with the checks that library leaves out.

    Beyond the library's structural parse: Bundle.type, Consent.status, Consent.decision and every
    provision.type must be codes of `version`'s required value sets; fullUrls must be unique; every
    literal Reference must resolve to an entry of this Bundle whose resourceType its element allows
    (and match Reference.type where given); dateTimes with a time must carry a zone; no empty values;
    the R4B Consent invariants ppc-1..5. Raises FhirExportError naming the path of the first problem.
    """
    _check_version(version)
    _library_validate(bundle, version)

    if bundle.get("type") not in BUNDLE_TYPE_CODES[version]:
        raise FhirExportError(f"Bundle.type: {bundle.get('type')!r} is not a {version} Bundle.type code")
    entries: list[Mapping[str, Any]] = list(bundle.get("entry", []))

    by_url: dict[str, Mapping[str, Any]] = {}
    by_type_id: dict[str, Mapping[str, Any]] = {}
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}]"
        full_url = entry.get("fullUrl")
        resource = entry.get("resource")
        if not full_url:
            raise FhirExportError(f"{path}.fullUrl: every entry needs one so references can resolve")
        if resource is None:
            raise FhirExportError(f"{path}.resource: missing")
        if full_url in by_url:
            raise FhirExportError(f"{path}.fullUrl: {full_url!r} is not unique")
        by_url[full_url] = resource
        if "id" in resource:
            by_type_id[f"{resource['resourceType']}/{resource['id']}"] = resource
            restful = not full_url.startswith(("urn:uuid:", "urn:oid:"))
            if restful and not full_url.endswith(f"/{resource['resourceType']}/{resource['id']}"):
                raise FhirExportError(
                    f"{path}.fullUrl: {full_url!r} does not end with the resource's type and id"
                )

    _check_json_shape("Bundle", {key: value for key, value in bundle.items() if key != "entry"})
    targets = REFERENCE_TARGETS[version]
    for index, entry in enumerate(entries):
        resource = entry["resource"]
        resource_type = resource["resourceType"]
        path = f"Bundle.entry[{index}].resource"
        _check_json_shape(path, resource)
        if resource_type == "Consent":
            _check_consent_codes(resource, path, version)
        for node, node_path, element in _walk(resource, path, resource_type):
            if not (isinstance(node, Mapping) and isinstance(node.get("reference"), str)):
                continue
            target = _resolve(node["reference"], by_url, by_type_id)
            if target is None:
                raise FhirExportError(
                    f"{node_path}.reference: {node['reference']!r} does not resolve to an entry of this Bundle"
                )
            target_type = target["resourceType"]
            if "type" in node and node["type"] != target_type:
                raise FhirExportError(f"{node_path}.type: {node['type']!r} but the target is a {target_type}")
            allowed = targets.get(element)
            if allowed is not None and target_type not in allowed:
                raise FhirExportError(
                    f"{node_path}.reference: {element} may not point to a {target_type} "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
