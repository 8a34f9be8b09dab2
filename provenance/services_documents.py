"""Signed documents: the platform signs the PDF reports it hands out (PAdES, under its
document-signing certificate) and checks such signatures.

Consent's evidence export reaches the signer through `consent.hooks.report_signer`, which
`provenance.registration` fills, since consent sits below provenance.
"""

from __future__ import annotations

import hashlib

from consent.hooks import SignedReport
from provenance.engine.pdf_sign import PdfSignatureCheck, pdf_sign, pdf_signature_check
from provenance.keys import document_signing_identity, trust_anchors_pem

REPORT_SIGNING_REASON = "Candor evidence report: issued by the platform from the consent ledger"


def document_pdf_sign(pdf: bytes, *, reason: str = REPORT_SIGNING_REASON) -> SignedReport:
    """Sign a PDF report under the platform's document-signing certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    identity = document_signing_identity()
    certificate = identity.certificate
    return SignedReport(
        content=pdf_sign(pdf, identity, reason=reason),
        signer_sha256=hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
        signer_name=certificate.subject.rfc4514_string(),
    )


def document_pdf_check(pdf: bytes) -> PdfSignatureCheck:
    """Validate a PDF's signature against the platform's trust anchors (current and retired roots)."""
    return pdf_signature_check(pdf, trust_anchors_pem=trust_anchors_pem())
