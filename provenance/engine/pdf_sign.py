"""PAdES signatures on PDF documents (the compliance evidence report), with pyHanko.

A report is signed once, as a PAdES baseline B-B signature (CMS with the signing certificate and its
chain embedded, ETSI.CAdES.detached) under the platform's document-signing certificate, appended as an
incremental update so the report's own bytes stay as they were. Any PDF reader that trusts the
platform root shows the signature as valid; `pdf_signature_check` does the same check here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from provenance.engine.errors import ProvenanceError
from provenance.engine.keys import SigningIdentity

SIGNATURE_FIELD = "CandorSignature"


def pdf_sign(pdf: bytes, identity: SigningIdentity, *, reason: str, location: str = "") -> bytes:
    """The same PDF with a PAdES signature by `identity` over all of it."""
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    certs = list(load_certs_from_pemder_data(identity.cert_chain_pem))
    if not certs:
        raise ProvenanceError("The document-signing identity has no certificate.", code="key_invalid")
    signer = signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=load_private_key_from_pemder_data(identity.key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(certs),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except Exception as exc:  # noqa: BLE001 — pyHanko raises several kinds for an unreadable PDF
        raise ProvenanceError(f"Not a PDF that can be signed: {exc}", code="pdf_invalid") from exc
    out = signers.sign_pdf(writer, meta, signer=signer)
    return bytes(out.getvalue())


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What a validator says of a PDF's signature."""

    signed: bool
    intact: bool  # the signed bytes are unchanged since signing
    valid: bool  # the signature is a correct signature by the certificate it names
    trusted: bool  # that certificate chains to one of the trust anchors, for document signing
    covers_whole_file: bool  # nothing was appended after the signature
    signer_subject: str
    signer_sha256: str  # of the signer certificate's DER
    signed_at: datetime | None

    @property
    def ok(self) -> bool:
        """Intact, valid, trusted, and nothing added since."""
        return self.signed and self.intact and self.valid and self.trusted and self.covers_whole_file


def pdf_signature_check(pdf: bytes, *, trust_anchors_pem: str) -> PdfSignatureCheck:
    """Validate the PDF's last signature against the given trust anchors (PEM bundle)."""
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 — a damaged file is simply not a valid signed PDF
        raise ProvenanceError(f"Not a readable PDF: {exc}", code="pdf_invalid") from exc
    if not signatures:
        return PdfSignatureCheck(False, False, False, False, False, "", "", None)
    embedded = signatures[-1]
    context = ValidationContext(
        trust_roots=list(load_certs_from_pemder_data(trust_anchors_pem.encode("ascii"))),
        allow_fetching=False,
    )
    cert = embedded.signer_cert
    subject, fingerprint = cert.subject.human_friendly, hashlib.sha256(cert.dump()).hexdigest()
    try:
        status = validate_pdf_signature(embedded, context)
    except SignatureValidationError:
        return PdfSignatureCheck(True, False, False, False, False, subject, fingerprint, None)
    return PdfSignatureCheck(
        signed=True,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=bool(status.coverage is not None and status.coverage.name == "ENTIRE_FILE"),
        signer_subject=subject,
        signer_sha256=fingerprint,
        signed_at=embedded.self_reported_timestamp,
    )
