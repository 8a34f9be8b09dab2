"""The PDF evidence report leaves signed (PAdES) by the platform's document-signing certificate: a
PDF signature validator (pyHanko's) finds it intact and trusted under the platform root, a modified
copy fails, and the ledger records the signed file's digest, the report's own and the signer."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from consent.models import LedgerEntry
from tests.consent.conftest import active_consent
from tests.support import api_client


@pytest.fixture(autouse=True)
def _own_keys(settings: Any, tmp_path: Path) -> None:
    settings.PROVENANCE_KEY_DIR = tmp_path / "keys"


def _validate(pdf: bytes) -> Any:
    from django.conf import settings
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = load_cert_from_pemder(str(Path(settings.PROVENANCE_KEY_DIR) / "root" / "root.crt"))
    signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    assert len(signatures) == 1
    return validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[root], allow_fetching=False))


def _export(texts: Any) -> bytes:
    active_consent(texts)
    response = api_client(texts.compliance).post(
        "/api/v1/compliance/exports/",
        {"format": "pdf", "recipient": "External auditor", "purpose": "Annual audit"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return bytes(response.content)


def test_the_pdf_report_is_signed_by_the_platform_and_validates(texts: Any) -> None:
    status = _validate(_export(texts))
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.signing_cert.subject.native["common_name"] == "Candor evidence reports"
    assert status.signing_cert.issuer.native["common_name"] == "Candor Platform Root CA"


def test_a_modified_report_fails_validation(texts: Any) -> None:
    pdf = _export(texts)
    changed = pdf.replace(b"/MediaBox [ 0 0 595.2756 841.8898 ]", b"/MediaBox [ 0 0 595.2756 741.8898 ]", 1)
    assert changed != pdf
    status = _validate(changed)
    assert not status.intact and not status.trusted


def test_the_ledger_records_the_signed_file_the_report_and_the_signer(texts: Any) -> None:
    pdf = _export(texts)
    status = _validate(pdf)
    data = json.loads(LedgerEntry.objects.get(event_type="export.pdf").entry)["data"]
    assert data["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert data["signer"] == hashlib.sha256(status.signing_cert.dump()).hexdigest()
    assert data["report_sha256"] != data["sha256"] and len(data["report_sha256"]) == 64
