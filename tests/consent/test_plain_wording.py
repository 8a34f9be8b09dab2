"""Issue 15 items 16-17: people and records in words, not ids and codes: the PDF names the person a
report was filtered on and counts in the singular when there is one; the accounting of disclosures
says what went to whom; a patient's banner says 'AI-generated' once."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from consent.evidence import ExportRequest, evidence_export
from consent.selectors import LedgerFilters
from consent.services.patient import patient_consent_grant
from consent.wording import disclosure_sentence
from tests.support import PASSWORD, signed_in_client


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())


def test_the_pdf_names_the_person_searched_for_and_counts_in_words(texts: Any, tmp_path: Path) -> None:
    patient_consent_grant(
        patient=texts.patient, kind="patient_recording", purpose="Teaching", password=PASSWORD, otp=""
    )
    export = evidence_export(
        actor=texts.compliance,
        request=ExportRequest(
            format="pdf",
            recipient="Auditor",
            purpose="Audit",
            filters=LedgerFilters(subject_id=str(texts.patient.pk)),
        ),
    )
    text = _pdf_text(export.content, tmp_path)
    assert f"Person: {texts.patient.printed_name} (Patient)" in text
    assert "subject_id" not in text
    assert re.search(r"Contents 1 consent, \d+ ledger events?", text), text[:600]


def test_a_disclosure_says_what_went_in_words() -> None:
    assert disclosure_sentence("export.pdf", 1) == "Evidence report (PDF) covering 1 consent"
    assert disclosure_sentence("publication", 1) == "A video, published for viewing"
    assert disclosure_sentence("something.new", 3) == "Something new covering 3 records"


def test_the_disclosures_page_shows_sentences_not_codes(texts: Any) -> None:
    evidence_export(
        actor=texts.compliance,
        request=ExportRequest(format="csv", recipient="Auditor", purpose="audit", filters=LedgerFilters()),
    )
    page = signed_in_client(texts.compliance).get("/compliance/disclosures/").content.decode()
    assert "Evidence export (CSV spreadsheet) covering" in page and ">export.csv<" not in page
