"""Platform root CA and clinic leaf certificates."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.engine import keys
from provenance.engine.errors import ProvenanceError


def test_leaf_is_issued_by_the_root_with_the_c2pa_key_usages(
    root_ca: keys.CertificateAuthority, harbor_identity: keys.SigningIdentity
) -> None:
    leaf = harbor_identity.certificate
    assert leaf.issuer == root_ca.certificate.subject
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in list(eku)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(root_ca.certificate)


def test_keys_round_trip_through_files_with_private_permissions(
    tmp_path: Path, root_ca: keys.CertificateAuthority, harbor_identity: keys.SigningIdentity
) -> None:
    _, root_key = keys.save_root_ca(root_ca, tmp_path)
    cert_path, key_path = keys.save_signing_identity(harbor_identity, tmp_path / "clinics")
    assert stat.S_IMODE(root_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert keys.read_root_ca(tmp_path) == root_ca
    loaded = keys.read_signing_identity(cert_path, key_path)
    assert loaded.clinic_id == "clinic-harbor"
    assert loaded.cert_chain_pem == harbor_identity.cert_chain_pem


def test_a_key_that_does_not_match_its_certificate_is_refused(
    harbor_identity: keys.SigningIdentity, summit_identity: keys.SigningIdentity
) -> None:
    with pytest.raises(ProvenanceError):
        keys.load_signing_identity(harbor_identity.cert_chain_pem, summit_identity.key_pem)


def test_a_self_signed_certificate_is_refused_as_a_signer(root_ca: keys.CertificateAuthority) -> None:
    with pytest.raises(ProvenanceError):
        keys.load_signing_identity(root_ca.cert_pem, root_ca.key_pem)


def test_the_watermark_key_round_trips_through_a_private_file(tmp_path: Path) -> None:
    key = keys.new_watermark_key()
    path = keys.save_watermark_key(key, tmp_path / "secrets" / "watermark.key")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.read_watermark_key(path) == key
