"""Plain records the exporters consume; built from database rows by consent.selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SignatureRecord:
    """An electronic signature (21 CFR Part 11 §11.50): who, when, what it means, bound to a hash."""

    id: str
    signer_id: str  # opaque user id
    printed_name: str
    meaning: str  # e.g. "I consent to the use of my likeness as described"
    signed_at: datetime  # timezone-aware UTC
    text_sha256: str  # hash of the exact consent text shown
    binding_sha256: str  # hash binding signer, record, text and time together
    reauthenticated_with: str  # "password" or "password+totp"


@dataclass(frozen=True)
class ConsentRecord:
    """One consent, likeness (clinician → clinic) or patient (recording / anonymization / use)."""

    id: str
    kind: str  # "likeness" | "patient_recording" | "patient_anonymization" | "patient_use"
    status: str  # Candor status: draft, awaiting_verification, active, revoked, expired, superseded,
    #              granted, withdrawn
    clinic_id: str
    clinic_name: str
    subject_id: str  # the person who consents (clinician or patient), opaque id
    subject_display: str  # printed name; omitted from exports marked `deidentified`
    subject_role: str  # "clinician" | "patient"
    text_id: str
    text_version: int
    text_language: str
    text_sha256: str
    purpose: str  # plain-language purpose
    legal_basis: str  # e.g. "consent", "explicit-consent"
    created_at: datetime
    valid_from: datetime | None
    valid_until: datetime | None
    granted_at: datetime | None
    revoked_at: datetime | None  # revocation / withdrawal time
    # Scope (likeness consents); empty for patient consents.
    topics: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    synthetic_voice_allowed: bool = False
    max_videos: int | None = None
    compensation_terms: str = ""
    representation: str = ""  # "legal counsel", "union representative" or ""
    signature: SignatureRecord | None = None
    ledger_entry_seqs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LedgerEventRecord:
    """One ledger entry as shown in reports."""

    seq: int
    event_type: str
    created_at: datetime
    leaf_hash: str  # hex
    summary: str  # ids and codes only, never PHI


@dataclass(frozen=True)
class IntegrityRecord:
    """The ledger's state when the report was made."""

    entry_count: int
    root_hash: str  # hex
    verified: bool
    first_bad_seq: int | None
    head_tree_size: int | None
    head_timestamp: datetime | None
    head_signature: str | None  # base64 Ed25519 signature of the latest signed tree head
    head_key_id: str | None
