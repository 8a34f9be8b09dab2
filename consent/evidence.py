"""Compliance evidence: consent records and ledger events turned into CSV, JSON, FHIR and PDF exports.

Every export is itself a ledger event (with the SHA-256 of the file handed out) and an entry in the
accounting of disclosures.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.errors import ConsentErrorCode
from consent.exports.fhir import consent_bundle
from consent.exports.pdf import evidence_report_pdf
from consent.exports.records import ConsentRecord, IntegrityRecord, LedgerEventRecord, SignatureRecord
from consent.hooks import report_signer
from consent.ledger import ledger_append, ledger_verify
from consent.models import Disclosure, LedgerEntry, LikenessConsent, PatientConsent, Signature, SignedTreeHead
from consent.policy import can_export_evidence, can_view_compliance, require
from consent.selectors import (
    LedgerFilters,
    ledger_entry_list,
    likeness_consent_list,
    patient_consent_list,
)
from core.errors import ApplicationError
from core.models import User

EXPORT_FORMATS = {
    "csv": "text/csv",
    "json": "application/json",
    "fhir": "application/fhir+json",
    "pdf": "application/pdf",
}


def _signature(sig: Signature | None) -> SignatureRecord | None:
    if sig is None:
        return None
    return SignatureRecord(
        id=str(sig.id),
        signer_id=str(sig.signer_id),
        printed_name=sig.printed_name,
        meaning=sig.meaning,
        signed_at=sig.signed_at,
        text_sha256=sig.text_sha256,
        binding_sha256=sig.binding_sha256,
        reauthenticated_with=sig.reauthenticated_with,
    )


def likeness_record(consent: LikenessConsent) -> ConsentRecord:
    return ConsentRecord(
        id=str(consent.id),
        kind="likeness",
        status=consent.status,
        clinic_id=str(consent.clinic_id),
        clinic_name=consent.clinic.name,
        subject_id=str(consent.clinician_id),
        subject_display=consent.clinician.printed_name,
        subject_role="clinician",
        text_id=str(consent.text_id),
        text_version=consent.text.version,
        text_language=consent.text.language,
        text_sha256=consent.text_sha256,
        purpose="Synthetic patient-education videos with the clinician's likeness",
        legal_basis="consent",
        created_at=consent.created_at,
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        granted_at=consent.signature.signed_at if consent.signature else None,
        revoked_at=consent.revoked_at or consent.ended_at,
        topics=list(consent.topics),
        audiences=list(consent.audiences),
        languages=list(consent.languages),
        channels=list(consent.channels),
        synthetic_voice_allowed=consent.synthetic_voice_allowed,
        max_videos=consent.max_videos,
        compensation_terms=consent.compensation_terms,
        representation=consent.get_representation_display() if consent.representation else "",
        signature=_signature(consent.signature),
    )


def patient_record(consent: PatientConsent) -> ConsentRecord:
    return ConsentRecord(
        id=str(consent.id),
        kind=consent.kind,
        status=consent.status,
        clinic_id=str(consent.clinic_id),
        clinic_name=consent.clinic.name,
        subject_id=str(consent.patient_id),
        subject_display=consent.patient.printed_name,
        subject_role="patient",
        text_id=str(consent.text_id),
        text_version=consent.text.version,
        text_language=consent.text.language,
        text_sha256=consent.text_sha256,
        purpose=consent.purpose,
        legal_basis=consent.legal_basis,
        created_at=consent.granted_at,
        valid_from=consent.granted_at,
        valid_until=None,
        granted_at=consent.granted_at,
        revoked_at=consent.withdrawn_at,
        signature=_signature(consent.signature),
    )


def _event_summary(entry: LedgerEntry) -> str:
    parts = [
        entry.object_type and f"{entry.object_type} {entry.object_id[:8]}",
        entry.actor_id and f"actor {entry.actor_id}",
    ]
    return ", ".join(p for p in parts if p)


def event_record(entry: LedgerEntry) -> LedgerEventRecord:
    return LedgerEventRecord(
        seq=entry.seq,
        event_type=entry.event_type,
        created_at=entry.created_at,
        leaf_hash=entry.leaf_hash,
        summary=_event_summary(entry),
    )


def integrity_record() -> IntegrityRecord:
    report = ledger_verify()
    head = SignedTreeHead.objects.order_by("-tree_size").first()
    return IntegrityRecord(
        entry_count=report.entry_count,
        root_hash=report.root_hex,
        verified=report.ok,
        first_bad_seq=report.first_bad_sequence,
        head_tree_size=head.tree_size if head else None,
        head_timestamp=datetime.fromtimestamp(head.timestamp_ms / 1000, tz=UTC) if head else None,
        head_signature=head.signature if head else None,
        head_key_id=head.key_id if head else None,
    )


@dataclass(frozen=True)
class ExportRequest:
    format: str
    recipient: str
    purpose: str
    filters: LedgerFilters
    fhir_version: str = "R5"
    include_names: bool = False


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str
    sha256: str
    ledger_seq: int


def _records(user: User, filters: LedgerFilters) -> list[ConsentRecord]:
    likeness = likeness_consent_list(user=user).select_related("clinic")
    patients = patient_consent_list(user=user).select_related("clinic")
    if filters.subject_id:
        likeness = likeness.filter(clinician_id=int(filters.subject_id))
        patients = patients.filter(patient_id=int(filters.subject_id))
    if filters.object_id:
        likeness = likeness.filter(id=filters.object_id) if _is_uuid(filters.object_id) else likeness.none()
        patients = patients.filter(id=filters.object_id) if _is_uuid(filters.object_id) else patients.none()
    return [likeness_record(c) for c in likeness] + [patient_record(c) for c in patients]


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _csv(records: list[ConsentRecord], events: list[LedgerEventRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "record",
            "id",
            "kind",
            "status",
            "subject",
            "subject_role",
            "text_sha256",
            "granted_at",
            "valid_until",
            "revoked_at",
            "signed_by",
            "signature_meaning",
            "binding_sha256",
        ]
    )
    for r in records:
        writer.writerow(
            [
                "consent",
                r.id,
                r.kind,
                r.status,
                r.subject_display,
                r.subject_role,
                r.text_sha256,
                r.granted_at.isoformat() if r.granted_at else "",
                r.valid_until.isoformat() if r.valid_until else "",
                r.revoked_at.isoformat() if r.revoked_at else "",
                r.signature.printed_name if r.signature else "",
                r.signature.meaning if r.signature else "",
                r.signature.binding_sha256 if r.signature else "",
            ]
        )
    writer.writerow([])
    writer.writerow(["record", "seq", "event_type", "created_at", "leaf_hash", "summary"])
    for e in events:
        writer.writerow(["ledger", e.seq, e.event_type, e.created_at.isoformat(), e.leaf_hash, e.summary])
    return out.getvalue().encode("utf-8")


def _json(records: list[ConsentRecord], events: list[LedgerEventRecord], integrity: IntegrityRecord) -> bytes:
    def default(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else str(value)

    body = {
        "consents": [asdict(r) for r in records],
        "ledger": [asdict(e) for e in events],
        "integrity": asdict(integrity),
    }
    return json.dumps(body, default=default, indent=2, sort_keys=True).encode("utf-8")


def evidence_export(*, actor: User, request: ExportRequest) -> ExportFile:
    """Build an export for a compliance officer or clinic admin, record it, and return the file."""
    require(
        can_export_evidence(actor),
        "Only compliance officers and clinic admins export evidence.",
        code=ConsentErrorCode.PERMISSION_DENIED,
    )
    if request.format not in EXPORT_FORMATS:
        raise ApplicationError(
            f"Unknown export format {request.format!r}; use csv, json, fhir or pdf.",
            code=ConsentErrorCode.INVALID_INPUT,
        )
    if request.fhir_version not in ("R5", "R4B"):
        raise ApplicationError("FHIR version must be R5 or R4B.", code=ConsentErrorCode.INVALID_INPUT)
    if not request.recipient.strip() or not request.purpose.strip():
        raise ApplicationError(
            "Say who receives this export and why (accounting of disclosures).",
            code=ConsentErrorCode.INVALID_INPUT,
        )
    records = _records(actor, request.filters)
    events = [event_record(e) for e in ledger_entry_list(user=actor, filters=request.filters)[:5000]]
    integrity = integrity_record()
    now = timezone.now()
    if request.format == "csv":
        content = _csv(records, events)
    elif request.format == "json":
        content = _json(records, events, integrity)
    elif request.format == "fhir":
        bundle = consent_bundle(
            records, version=request.fhir_version, include_names=request.include_names, generated_at=now
        )
        content = json.dumps(bundle, indent=2, sort_keys=True).encode("utf-8")
    else:
        filters = _filters_in_words(actor, request.filters)
        content = evidence_report_pdf(
            clinic_name=actor.member_clinic.name,
            generated_at=now,
            generated_by=actor.printed_name,
            filters=filters,
            consents=records,
            events=events,
            integrity=integrity,
        )
    signing: dict[str, Any] = {}
    signer = report_signer() if request.format == "pdf" else None
    if signer is not None:
        # The report's own bytes are reproducible from the records; the signature (PAdES, appended
        # as an incremental update) is not, so the ledger keeps the digest of both.
        signed = signer(content)
        signing = {"report_sha256": hashlib.sha256(content).hexdigest(), "signer": signed.signer_sha256}
        content = signed.content
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        entry = ledger_append(
            event_type=f"export.{request.format}",
            clinic_id=actor.clinic_id,
            object_type="export",
            object_id=digest[:32],
            actor=actor,
            data={
                "sha256": digest,
                "consents": len(records),
                "events": len(events),
                "fhir_version": request.fhir_version if request.format == "fhir" else "",
                **signing,
            },
        )
        Disclosure.objects.create(
            clinic_id=actor.member_clinic_id,
            recipient=request.recipient.strip()[:200],
            purpose=request.purpose.strip()[:300],
            what=f"export.{request.format}",
            object_ids=[r.id for r in records],
            file_sha256=digest,
            made_by=actor,
            ledger_seq=entry.seq,
        )
    extension = {"fhir": "fhir.json"}.get(request.format, request.format)
    filename = f"candor-evidence-{now:%Y%m%dT%H%M%SZ}.{extension}"
    return ExportFile(content, EXPORT_FORMATS[request.format], filename, digest, entry.seq)


def _filters_in_words(actor: User, filters: LedgerFilters) -> dict[str, str]:
    """The search behind a report as its reader understands it: a person by name, not by id."""
    words: dict[str, str] = {}
    if filters.subject_id:
        person = User.objects.filter(pk=filters.subject_id, clinic_id=actor.member_clinic_id).first()
        words["Person"] = (
            f"{person.printed_name} ({person.get_role_display()})" if person else filters.subject_id
        )
    if filters.event_type:
        words["Events starting with"] = filters.event_type
    if filters.object_id:
        words["About the record"] = filters.object_id
    if filters.since:
        words["From"] = f"{filters.since:%d %b %Y, %H:%M} UTC"
    if filters.until:
        words["Until"] = f"{filters.until:%d %b %Y, %H:%M} UTC"
    return words


def disclosure_list(*, user: User) -> Any:
    if not can_view_compliance(user):
        return Disclosure.objects.none()
    return Disclosure.objects.filter(clinic_id=user.member_clinic_id).select_related("made_by")
