"""The PDF evidence report: a real PDF, paginated, complete, and reproducible byte for byte.

Framework-free: runs without Django (`pytest -p no:django tests/consent/test_pdf_report.py`).
Text is read back with `pdftotext` from poppler-utils.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent.exports.pdf import FOOTER_TEXT, evidence_report_pdf
from consent.exports.records import ConsentRecord, IntegrityRecord, LedgerEventRecord, SignatureRecord

GENERATED_AT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SIGNED_AT = datetime(2025, 3, 4, 9, 30, 15, tzinfo=UTC)
BINDING = "9f" * 32

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")


def likeness(index: int = 0, **changes: object) -> ConsentRecord:
    record = ConsentRecord(
        id=f"lk-{index}",
        kind="likeness",
        status="active",
        clinic_id="clinic-riverside",
        clinic_name="Riverside Family Clinic",
        subject_id=f"user-{index}",
        subject_display="Dr. Sam Rivera",
        subject_role="clinician",
        text_id="likeness-en",
        text_version=3,
        text_language="en",
        text_sha256="a" * 64,
        purpose="Synthetic patient-education videos",
        legal_basis="consent",
        created_at=SIGNED_AT,
        valid_from=SIGNED_AT,
        valid_until=SIGNED_AT + timedelta(days=730),
        granted_at=SIGNED_AT,
        revoked_at=None,
        topics=["diabetes", "vaccination"],
        audiences=["patients"],
        languages=["en", "es"],
        channels=["clinic-website"],
        synthetic_voice_allowed=True,
        max_videos=20,
        representation="union representative",
        signature=SignatureRecord(
            id=f"sig-{index}",
            signer_id=f"user-{index}",
            printed_name="Sam Rivera",
            meaning="I consent to the use of my likeness as described",
            signed_at=SIGNED_AT,
            text_sha256="a" * 64,
            binding_sha256=BINDING,
            reauthenticated_with="password+totp",
        ),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def patient(**changes: object) -> ConsentRecord:
    record = likeness(
        kind="patient_use",
        status="withdrawn",
        id="pt-1",
        subject_id="user-lee",
        subject_display="Jordan Lee",
        subject_role="patient",
        purpose="Use the anonymized video to teach students",
        legal_basis="explicit-consent",
        topics=[],
        audiences=[],
        languages=[],
        channels=[],
        synthetic_voice_allowed=False,
        max_videos=None,
        representation="",
        revoked_at=SIGNED_AT + timedelta(days=10),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def event(seq: int) -> LedgerEventRecord:
    return LedgerEventRecord(
        seq=seq,
        event_type="consent.signed" if seq % 2 else "render.requested",
        created_at=SIGNED_AT + timedelta(seconds=seq),
        leaf_hash=hashlib.sha256(str(seq).encode()).hexdigest(),
        summary=f"consent=lk-{seq % 7} job={seq}",
    )


def integrity(**changes: object) -> IntegrityRecord:
    record = IntegrityRecord(
        entry_count=1234,
        root_hash="5e" * 32,
        verified=True,
        first_bad_seq=None,
        head_tree_size=1200,
        head_timestamp=GENERATED_AT - timedelta(hours=1),
        head_signature="QUJD" * 22,
        head_key_id="ledger-key-2025",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def report(
    consents: list[ConsentRecord] | None = None,
    events: list[LedgerEventRecord] | None = None,
    ledger: IntegrityRecord | None = None,
) -> bytes:
    return evidence_report_pdf(
        clinic_name="Riverside Family Clinic",
        generated_at=GENERATED_AT,
        generated_by="Casey Chen (compliance officer)",
        filters={"Person": "Dr Sam Rivera (Clinician)", "From": "01 Jan 2025, 00:00 UTC"},
        consents=[likeness(), patient()] if consents is None else consents,
        events=[event(seq) for seq in range(1, 6)] if events is None else events,
        integrity=integrity() if ledger is None else ledger,
    )


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    result = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    # Table cells wrap, so compare with runs of whitespace collapsed.
    return " ".join(result.stdout.split())


def page_count(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_report_is_a_pdf() -> None:
    data = report()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")


def test_report_shows_who_generated_it_when_and_with_which_filters(tmp_path: Path) -> None:
    text = pdf_text(report(), tmp_path)
    assert "Consent evidence report" in text
    assert "Riverside Family Clinic" in text
    assert "Casey Chen (compliance officer)" in text
    assert "2025-06-01 12:00:00 UTC" in text
    assert "Person: Dr Sam Rivera (Clinician); From: 01 Jan 2025, 00:00 UTC" in text


def test_report_shows_verified_ledger_and_latest_signed_head(tmp_path: Path) -> None:
    text = pdf_text(report(), tmp_path)
    assert "Verified: all 1234 entries" in text
    assert "5e" * 32 in text
    assert "1200" in text
    assert "ledger-key-2025" in text
    assert "2025-06-01 11:00:00 UTC" in text


def test_report_names_the_first_bad_entry(tmp_path: Path) -> None:
    text = pdf_text(report(ledger=integrity(verified=False, first_bad_seq=77)), tmp_path)
    assert "NOT VERIFIED: entry 77 is the first that does not match" in text


def test_report_lists_consents_with_their_signatures(tmp_path: Path) -> None:
    text = pdf_text(report(), tmp_path)
    assert "Dr. Sam Rivera" in text
    assert "Jordan Lee" in text
    assert "withdrawn" in text
    assert "Topics: diabetes, vaccination" in text
    assert "Use the anonymized video to teach students" in text
    assert "I consent to the use of my likeness as described" in text
    assert "password+totp" in text
    assert BINDING[:32] in text and BINDING[32:] in text


def test_report_lists_ledger_events(tmp_path: Path) -> None:
    text = pdf_text(report(), tmp_path)
    assert "render.requested" in text
    assert event(3).leaf_hash[:16] in text
    assert "consent=lk-3 job=3" in text


def test_every_page_has_the_footer_and_its_number(tmp_path: Path) -> None:
    data = report(consents=[likeness(i) for i in range(30)], events=[event(seq) for seq in range(300)])
    pages = page_count(data, tmp_path)
    text = pdf_text(data, tmp_path)
    assert text.count(FOOTER_TEXT) == pages
    assert f"Page {pages} of {pages}" in text


def test_many_rows_run_over_the_expected_number_of_pages(tmp_path: Path) -> None:
    # 30 consents take about 4 pages and 300 events about 7 more; the bounds catch a table that
    # overflows or is cut, not a change of font size.
    data = report(consents=[likeness(i) for i in range(30)], events=[event(seq) for seq in range(300)])
    assert 8 <= page_count(data, tmp_path) <= 14
    assert page_count(report(), tmp_path) == 1


def test_user_text_is_not_read_as_markup(tmp_path: Path) -> None:
    data = report(consents=[likeness(subject_display="Dr. A <b>& B</b>")])
    assert "Dr. A <b>& B</b>" in pdf_text(data, tmp_path)


def test_empty_report_still_renders(tmp_path: Path) -> None:
    text = pdf_text(report(consents=[], events=[], ledger=integrity(head_tree_size=None)), tmp_path)
    assert "No consents match." in text
    assert "none issued yet" in text


def test_identical_inputs_give_identical_bytes() -> None:
    assert report() == report()


def test_bytes_do_not_depend_on_the_process(tmp_path: Path) -> None:
    # A fresh interpreter with another hash seed must produce the file whose hash the ledger holds.
    script = (
        "import hashlib, sys\n"
        "sys.path[:0] = ['platform', 'tests/consent']\n"
        "import test_pdf_report as t\n"
        "print(hashlib.sha256(t.report()).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == hashlib.sha256(report()).hexdigest()


def test_creation_date_comes_from_generated_at() -> None:
    assert b"D:20250601120000+00'00'" in report()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        evidence_report_pdf(
            clinic_name="Riverside Family Clinic",
            generated_at=datetime(2025, 6, 1, 12, 0),
            generated_by="Casey Chen",
            filters={},
            consents=[],
            events=[],
            integrity=integrity(),
        )


def test_a_row_taller_than_a_page_is_split_rather_than_failing(tmp_path: Path) -> None:
    long_purpose = " ".join(f"clause-{i} of the stated purpose" for i in range(400))
    data = report(consents=[patient(purpose=long_purpose)])
    text = pdf_text(data, tmp_path)
    assert "clause-0 of" in text and "clause-399 of" in text
    assert page_count(data, tmp_path) >= 2
