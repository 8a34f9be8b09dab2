"""Platform root CA and per-clinic signing certificates for C2PA, kept as PEM (files, never the DB).

Layout: one platform root CA (the trust anchor the verifier is configured with) issues one leaf per
clinic. C2PA's certificate profile refuses self-signed signers and wants the leaf to carry the
digitalSignature key usage and an end-entity EKU; we use emailProtection, which c2pa-rs accepts.

Rotation: issuing a new leaf for a clinic leaves every older output verifiable, because trust is
anchored at the root, not at the leaf. Rotating the root itself means verifying against a bundle of
old and new roots for as long as old outputs matter (`trust_bundle_pem`).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.engine.errors import ProvenanceError

SIGNING_ALG = "es256"
ROOT_VALID_DAYS = 3650
LEAF_VALID_DAYS = 825


@dataclass(frozen=True)
class CertificateAuthority:
    """The platform root: certificate and private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed root certificate."""
        return x509.load_pem_x509_certificate(self.cert_pem)


@dataclass(frozen=True)
class SigningIdentity:
    """What a clinic signs with: the chain (leaf first, root excluded) and the leaf's private key."""

    clinic_id: str
    cert_chain_pem: bytes
    key_pem: bytes
    alg: str = SIGNING_ALG

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed leaf certificate."""
        return x509.load_pem_x509_certificates(self.cert_chain_pem)[0]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 is what the c2pa native signer parses; the file's permissions protect it, not a password.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_root_ca(
    *,
    common_name: str = "Candor Platform Root CA",
    organization: str = "Candor",
    valid_days: int = ROOT_VALID_DAYS,
) -> CertificateAuthority:
    """Create a fresh platform root CA (development and first run; production may configure its own)."""
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_clinic_identity(
    ca: CertificateAuthority,
    *,
    clinic_id: str,
    clinic_name: str,
    valid_days: int = LEAF_VALID_DAYS,
) -> SigningIdentity:
    """Issue a clinic's C2PA signing certificate from the platform root.

    The clinic's display name goes in O and CN (verifiers show it), its stable id in the UID
    attribute so a renamed clinic is still the same signer.
    """
    if not clinic_id or not clinic_name:
        raise ProvenanceError("A clinic certificate needs a clinic id and a name.", code="key_invalid")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, clinic_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, clinic_name),
            x509.NameAttribute(NameOID.USER_ID, clinic_id),
        ]
    )
    return _issue_leaf(
        ca,
        identity_id=clinic_id,
        subject=subject,
        non_repudiation=False,
        usage=ExtendedKeyUsageOID.EMAIL_PROTECTION,
        valid_days=valid_days,
    )


#: The UID of the platform's document-signing certificate (the PDF evidence report's signer).
DOCUMENT_SIGNER_ID = "platform-documents"


def issue_document_signing_identity(
    ca: CertificateAuthority,
    *,
    common_name: str = "Candor evidence reports",
    organization: str = "Candor",
    valid_days: int = LEAF_VALID_DAYS,
) -> SigningIdentity:
    """Issue the platform's document-signing certificate (PAdES signatures on PDF reports).

    PDF validators expect a document signer's key to be for non-repudiation (content commitment) and
    the RFC 9336 documentSigning purpose; a C2PA clinic certificate has neither, hence its own leaf
    under the same root, so one trust anchor verifies both videos and reports.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.USER_ID, DOCUMENT_SIGNER_ID),
        ]
    )
    return _issue_leaf(
        ca,
        identity_id=DOCUMENT_SIGNER_ID,
        subject=subject,
        non_repudiation=True,
        usage=x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning
        valid_days=valid_days,
    )


def _issue_leaf(
    ca: CertificateAuthority,
    *,
    identity_id: str,
    subject: x509.Name,
    non_repudiation: bool,
    usage: x509.ObjectIdentifier,
    valid_days: int,
) -> SigningIdentity:
    root = ca.certificate
    root_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(root_key, ec.EllipticCurvePrivateKey):
        raise ProvenanceError("The platform root key must be an EC P-256 key.", code="key_invalid")
    key = _new_key()
    now = _now()
    not_after = min(now + dt.timedelta(days=valid_days), root.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return SigningIdentity(identity_id, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def load_root_ca(cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
    """Check and wrap a root CA given as PEM bytes (e.g. read from configured files)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        raise ProvenanceError(f"Unreadable root CA PEM: {exc}", code="key_invalid") from exc
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ProvenanceError("The root CA key does not match its certificate.", code="key_invalid")
    return CertificateAuthority(cert_pem, key_pem)


def load_signing_identity(cert_chain_pem: bytes, key_pem: bytes) -> SigningIdentity:
    """Check and wrap a clinic signing identity given as PEM bytes (chain leaf first, then key)."""
    try:
        chain = x509.load_pem_x509_certificates(cert_chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        raise ProvenanceError(
            f"Unreadable signing certificate or key PEM: {exc}", code="key_invalid"
        ) from exc
    leaf = chain[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ProvenanceError("The signing key does not match its certificate.", code="key_invalid")
    if leaf.issuer == leaf.subject:
        raise ProvenanceError("C2PA refuses self-signed signing certificates.", code="key_invalid")
    uids = leaf.subject.get_attributes_for_oid(NameOID.USER_ID)
    clinic_id = str(uids[0].value) if uids else leaf.subject.rfc4514_string()
    return SigningIdentity(clinic_id, cert_chain_pem, key_pem)


def trust_bundle_pem(*roots: CertificateAuthority | bytes) -> str:
    """Concatenate root certificates (current and retired) into the verifier's trust-anchor PEM."""
    parts = [r.cert_pem if isinstance(r, CertificateAuthority) else r for r in roots]
    return "".join(p.decode("ascii").strip() + "\n" for p in parts)


def _write_private(path: Path, data: bytes) -> None:
    # Create with 0600 from the start so the key is never world-readable, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def save_root_ca(ca: CertificateAuthority, directory: str | Path) -> tuple[Path, Path]:
    """Write `root.crt` (world-readable) and `root.key` (0600) into `directory`; return both paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "root.crt", folder / "root.key"
    cert_path.write_bytes(ca.cert_pem)
    _write_private(key_path, ca.key_pem)
    return cert_path, key_path


def read_root_ca(directory: str | Path) -> CertificateAuthority:
    """Load the root CA written by `save_root_ca`."""
    folder = Path(directory)
    return load_root_ca((folder / "root.crt").read_bytes(), (folder / "root.key").read_bytes())


def save_signing_identity(identity: SigningIdentity, directory: str | Path) -> tuple[Path, Path]:
    """Write `<clinic_id>.crt` and `<clinic_id>.key` (0600); a rotation simply overwrites them."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in identity.clinic_id)
    cert_path, key_path = folder / f"{safe}.crt", folder / f"{safe}.key"
    cert_path.write_bytes(identity.cert_chain_pem)
    _write_private(key_path, identity.key_pem)
    return cert_path, key_path


def read_signing_identity(cert_path: str | Path, key_path: str | Path) -> SigningIdentity:
    """Load a clinic signing identity from its certificate-chain file and key file."""
    return load_signing_identity(Path(cert_path).read_bytes(), Path(key_path).read_bytes())


def new_watermark_key() -> bytes:
    """A fresh 32-byte secret for the invisible watermark (keep it beside the root key, never in the DB)."""
    return os.urandom(32)


def save_watermark_key(key: bytes, path: str | Path) -> Path:
    """Write the watermark secret to a 0600 file."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_private(out, key)
    return out


def read_watermark_key(path: str | Path) -> bytes:
    """Read a watermark secret written by `save_watermark_key`."""
    key = Path(path).read_bytes()
    if len(key) < 16:
        raise ProvenanceError("The watermark key file is too short to be a secret.", code="key_invalid")
    return key
