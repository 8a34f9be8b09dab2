"""PAdES signatures on PDF reports: signed under the platform's document-signing certificate, checked
by pyHanko's validator, and refused once the file is changed, re-signed elsewhere or added to.

Framework-free: `pytest -p no:django tests/provenance/engine/test_pdf_signature.py`.
"""

from __future__ import annotations

import io

import pytest
from cryptography import x509

from provenance.engine import keys
from provenance.engine.pdf_sign import pdf_sign, pdf_signature_check


def _report() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, invariant=1)
    page.drawString(72, 720, "Evidence report: 3 consents, ledger verified")
    page.showPage()
    page.save()
    return out.getvalue()


@pytest.fixture(scope="module")
def document_identity(root_ca: keys.CertificateAuthority) -> keys.SigningIdentity:
    return keys.issue_document_signing_identity(root_ca)


@pytest.fixture(scope="module")
def signed(document_identity: keys.SigningIdentity) -> bytes:
    return pdf_sign(_report(), document_identity, reason="Evidence report")


def test_a_signed_report_validates_against_the_platform_root(
    signed: bytes, root_ca: keys.CertificateAuthority
) -> None:
    check = pdf_signature_check(signed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))
    assert check.ok and check.intact and check.trusted and check.covers_whole_file
    assert "Candor evidence reports" in check.signer_subject


def test_the_document_certificate_is_for_non_repudiation_and_document_signing(
    document_identity: keys.SigningIdentity, root_ca: keys.CertificateAuthority
) -> None:
    cert = document_identity.certificate
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert usage.content_commitment and usage.digital_signature
    assert x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36") in purposes
    assert cert.issuer == root_ca.certificate.subject


def test_a_changed_byte_in_the_signed_report_breaks_its_integrity(
    signed: bytes, root_ca: keys.CertificateAuthority
) -> None:
    changed = signed.replace(b"841.8898", b"741.8898", 1)
    assert changed != signed
    check = pdf_signature_check(changed, trust_anchors_pem=keys.trust_bundle_pem(root_ca))
    assert check.signed and not check.intact and not check.ok


def test_content_appended_after_signing_is_not_covered(
    signed: bytes, root_ca: keys.CertificateAuthority
) -> None:
    check = pdf_signature_check(
        signed + b"\n% added later\n", trust_anchors_pem=keys.trust_bundle_pem(root_ca)
    )
    assert check.intact and not check.covers_whole_file and not check.ok


def test_a_report_signed_under_another_root_is_not_trusted(signed: bytes) -> None:
    stranger = keys.generate_root_ca(common_name="Someone Else Root CA")
    check = pdf_signature_check(signed, trust_anchors_pem=keys.trust_bundle_pem(stranger))
    assert check.intact and not check.trusted and not check.ok


def test_an_unsigned_report_says_so(root_ca: keys.CertificateAuthority) -> None:
    check = pdf_signature_check(_report(), trust_anchors_pem=keys.trust_bundle_pem(root_ca))
    assert not check.signed and not check.ok
