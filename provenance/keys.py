"""The platform root CA and each clinic's C2PA signing identity, kept in files (never the database).

Production points PROVENANCE_KEY_DIR at a secret volume holding a root issued by a real CA; in
development the root and clinic identities are generated on first use. Old roots stay trusted
(PROVENANCE_EXTRA_TRUST_PEM), so rotating keys never breaks verification of older outputs.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from provenance.engine.keys import (
    DOCUMENT_SIGNER_ID,
    CertificateAuthority,
    SigningIdentity,
    generate_root_ca,
    issue_clinic_identity,
    issue_document_signing_identity,
    read_root_ca,
    read_signing_identity,
    save_root_ca,
    save_signing_identity,
    trust_bundle_pem,
)

_lock = threading.Lock()


def _key_dir() -> Path:
    return Path(settings.PROVENANCE_KEY_DIR)


def platform_root() -> CertificateAuthority:
    """The platform root CA, generated on first use where allowed."""
    directory = _key_dir() / "root"
    with _lock:
        if not (directory / "root.crt").exists():
            if not settings.PROVENANCE_GENERATE_DEV_KEYS:
                raise RuntimeError(f"No platform root CA in {directory}; configure PROVENANCE_KEY_DIR.")
            directory.mkdir(parents=True, exist_ok=True)
            save_root_ca(generate_root_ca(), directory)
        return read_root_ca(directory)


def clinic_identity(*, clinic_id: str, clinic_name: str) -> SigningIdentity:
    """The clinic's signing certificate and key, issued from the platform root on first use."""
    directory = _key_dir() / "clinics" / str(clinic_id)
    root = platform_root()
    with _lock:
        if not directory.exists() or not any(directory.glob("*.crt")):
            identity = issue_clinic_identity(root, clinic_id=str(clinic_id), clinic_name=clinic_name)
            cert, key = save_signing_identity(identity, directory)
        else:
            cert = next(directory.glob("*.crt"))
            key = cert.with_suffix(".key")
        return read_signing_identity(cert, key)


def document_signing_identity() -> SigningIdentity:
    """The platform's document-signing certificate and key (PDF reports), issued from the platform
    root on first use and again when it has less than a month to run."""
    directory = _key_dir() / "documents"
    root = platform_root()
    cert, key = directory / f"{DOCUMENT_SIGNER_ID}.crt", directory / f"{DOCUMENT_SIGNER_ID}.key"
    with _lock:
        if cert.exists():
            identity = read_signing_identity(cert, key)
            if identity.certificate.not_valid_after_utc - datetime.now(UTC) > timedelta(days=30):
                return identity
        cert, key = save_signing_identity(issue_document_signing_identity(root), directory)
        return read_signing_identity(cert, key)


def trust_anchors_pem() -> str:
    """Every root a verifier should trust: the current platform root and any retired ones."""
    return trust_bundle_pem(platform_root(), *[pem.encode() for pem in settings.PROVENANCE_EXTRA_TRUST_PEM])
