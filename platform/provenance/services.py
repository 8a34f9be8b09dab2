"""Provenance services: sign every synthetic output with the clinic's C2PA identity.

Signing is a required step: a caller that cannot sign must not publish (see avatars.services).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance.engine.c2pa_sign import (
    ConsentAssertion,
    ManifestReport,
    SourceType,
    read_manifest,
    sign_media,
)
from provenance.keys import clinic_identity, trust_anchors_pem


@dataclass(frozen=True)
class OutputProvenance:
    clinic_id: str
    clinic_name: str
    ledger_entry_id: str
    consent_ids: tuple[str, ...]
    consent_hashes: tuple[str, ...]
    disclosure_text: str
    output_kind: str
    source_type: SourceType = SourceType.TRAINED_ALGORITHMIC_MEDIA


def output_sign(*, source: Path, dest: Path, provenance: OutputProvenance, title: str) -> Path:
    """Write a C2PA-signed copy of `source` to `dest` and return `dest`."""
    identity = clinic_identity(clinic_id=provenance.clinic_id, clinic_name=provenance.clinic_name)
    assertion = ConsentAssertion(
        clinic_id=provenance.clinic_id,
        ledger_entry_id=provenance.ledger_entry_id,
        consent_ids=provenance.consent_ids,
        consent_hashes=provenance.consent_hashes,
        disclosure_text=provenance.disclosure_text,
        output_kind=provenance.output_kind,
    )
    return sign_media(
        source, dest, identity=identity, consent=assertion, source_type=provenance.source_type, title=title
    ).path


def output_manifest(path: Path) -> ManifestReport:
    """Read a file's manifest with the platform roots as trust anchors."""
    return read_manifest(path, trust_anchors_pem=trust_anchors_pem())
