"""DICOM uploads go through the platform's upload machinery (core.uploads: size limit while streaming
to scratch space, a judgement before anything is stored, store and record in one transaction): an
oversized file, a zip bomb, a zip with too many files, a non-DICOM file and a zip with one bad member
are each refused with a clear reason and leave no row, job, ledger entry, stored file or scratch
folder behind. And no patient name, ID or birth date reaches the logs, the job rows, the study rows,
the ledger, the API or an alert."""

from __future__ import annotations

import io
import json
import logging
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.models import LedgerEntry
from core.errors import ApplicationError
from core.models import MediaJob
from detection.engine.dicom import reader
from detection.models import DicomInstanceRecord, DicomStudy
from detection.services.dicom import dicom_study_start
from tests.detection.test_dicom import dicom, run_job
from tests.support import api_client


def _state() -> tuple[int, int, int, list[str], list[str]]:
    """Everything a DICOM upload could leave behind."""
    media = Path(settings.MEDIA_ROOT)
    files = (
        sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()) if media.exists() else []
    )
    scratch = sorted(p.name for p in Path(tempfile.gettempdir()).glob("candor-*"))
    return (
        DicomStudy.objects.count(),
        MediaJob.objects.count(),
        LedgerEntry.objects.filter(event_type__startswith="dicom.").count(),
        files,
        scratch,
    )


def refused(actor: Any, data: bytes, name: str = "study.zip") -> ApplicationError:
    """Upload `data`, expect a refusal, and check that nothing was left behind."""
    before = _state()
    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(actor=actor, file=SimpleUploadedFile(name, data))
    assert _state() == before
    return caught.value


def zipped(*members: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_oversized_upload_is_refused_before_anything_is_stored(clinic_a: Any, settings: Any) -> None:
    data = dicom("MR_small.dcm").read_bytes()
    settings.UPLOAD_MAX_BYTES = len(data) - 1

    error = refused(clinic_a.compliance, data, "mr.dcm")

    assert (error.status, error.code) == (413, "upload_too_large")
    assert "at most" in error.message and "MB" in error.message


def test_an_upload_larger_than_it_declared_is_cut_off_while_streaming(clinic_a: Any, settings: Any) -> None:
    data = dicom("MR_small.dcm").read_bytes()
    settings.UPLOAD_MAX_BYTES = len(data) - 1
    before = _state()
    upload = SimpleUploadedFile("mr.dcm", data)
    upload.size = 100  # a client that under-declares: the bytes actually received are counted

    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(actor=clinic_a.compliance, file=upload)

    assert (caught.value.status, caught.value.code) == (413, "upload_too_large")
    assert _state() == before


def test_a_zip_bomb_is_refused_before_it_is_inflated(clinic_a: Any) -> None:
    buffer = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("a.dcm", "w", force_zip64=True) as member,
    ):
        for _ in range(reader.ZIP_MAX_MEMBER_BYTES // len(chunk) + 1):
            member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 2_000_000  # about 0.3 MB that would unpack to 257 MiB

    error = refused(clinic_a.compliance, data)

    assert (error.status, error.code) == (413, "upload_too_large")
    assert "too large once unpacked" in error.message


def test_a_zip_that_unpacks_hundreds_of_times_its_size_is_refused(clinic_a: Any) -> None:
    # Each member within the per-file limit, the total within the study limit: only the ratio gives it away.
    member = bytes(1024 * 1024)
    data = zipped(*((f"s/{i:03}.dcm", member) for i in range(70)))

    error = refused(clinic_a.compliance, data)

    assert (error.status, error.code) == (413, "upload_too_large")
    assert "likely zip bomb" in error.message


def test_a_zip_with_too_many_files_is_refused(clinic_a: Any) -> None:
    one = dicom("MR_small.dcm").read_bytes()[:200]
    data = zipped(*((f"{i:05}.dcm", one) for i in range(reader.ZIP_MAX_MEMBERS + 1)))

    error = refused(clinic_a.compliance, data)

    assert (error.status, error.code) == (413, "upload_too_large")
    assert error.message == (
        f"The zip holds {reader.ZIP_MAX_MEMBERS + 1} files; a zipped study may hold at most "
        f"{reader.ZIP_MAX_MEMBERS}."
    )


def test_a_non_dicom_file_is_refused_whatever_its_name(clinic_a: Any) -> None:
    png = (Path(__file__).resolve().parents[2] / "static").rglob("*.png")
    data = next(png, None)
    content = data.read_bytes() if data else b"\x89PNG\r\n\x1a\n" + bytes(400)

    error = refused(clinic_a.compliance, content, "scan.dcm")

    assert (error.status, error.code) == (415, "upload_unknown_type")
    assert error.message == "The file is neither a DICOM file nor a zip of DICOM files."


def test_a_zip_with_one_non_dicom_member_is_refused_naming_the_member_by_number(clinic_a: Any) -> None:
    data = zipped(
        ("study/1.dcm", dicom("MR_small.dcm").read_bytes()),
        ("study/2.dcm", dicom("CT_small.dcm").read_bytes()),
        ("study/3.dcm", b"this is a text file, not an image" * 20),
    )

    error = refused(clinic_a.compliance, data)

    assert (error.status, error.code) == (415, "upload_unknown_type")
    assert error.message.startswith("File #3 of 3 in the zip is not a DICOM file")


def test_a_zip_with_one_damaged_member_is_refused(clinic_a: Any) -> None:
    good = dicom("CT_small.dcm").read_bytes()
    data = bytearray(zipped(("1.dcm", good), ("2.dcm", good), compression=zipfile.ZIP_STORED))
    # Flip bytes inside the second member's stored pixel data: its CRC no longer matches.
    second = data.rfind(good[-4000:])
    data[second + 100 : second + 110] = bytes(10)

    error = refused(clinic_a.compliance, bytes(data))

    assert (error.status, error.code) == (422, "invalid_input")
    assert error.message.startswith("File #2 in the zip cannot be unpacked")


def test_a_damaged_zip_is_refused(clinic_a: Any) -> None:
    data = zipped(("1.dcm", dicom("CT_small.dcm").read_bytes()))

    error = refused(clinic_a.compliance, data[: len(data) // 2])

    assert error.status in (415, 422)
    assert "zip" in error.message or "DICOM" in error.message


def test_the_api_refuses_a_bad_zip_with_its_reason_and_leaves_nothing(clinic_a: Any) -> None:
    data = zipped(("1.dcm", dicom("MR_small.dcm").read_bytes()), ("notes.txt", b"hello there" * 30))
    before = _state()

    response = api_client(clinic_a.compliance).post(
        "/api/v1/dicom/studies/", {"file": SimpleUploadedFile("s.zip", data)}, format="multipart"
    )

    assert response.status_code == 415, response.content
    body = response.json()
    assert "File #2 of 2 in the zip is not a DICOM file" in json.dumps(body)
    assert _state() == before


def test_a_valid_zip_with_a_dicomdir_and_finder_litter_is_accepted(clinic_a: Any) -> None:
    data = zipped(
        ("s/DICOMDIR", b"not read"),
        ("__MACOSX/s/._1.dcm", b"resource fork"),
        ("s/.DS_Store", b"finder"),
        ("s/1.dcm", dicom("MR_small.dcm").read_bytes()),
    )

    study = dicom_study_start(actor=clinic_a.compliance, file=SimpleUploadedFile("s.zip", data))
    run_job(study.job)
    study.refresh_from_db()

    assert study.verdict == "signed", study.headline
    assert study.is_zip and study.size_bytes == len(data)
    media = Path(settings.MEDIA_ROOT)
    assert (media / study.storage_key).read_bytes() == data


# --- no PHI in logs, jobs, rows, ledger, API or alerts ---------------------------------------------

PHI = ("Zebulon^Phiworthy", "PHI-7731-ZQ", "19230417", "Quintus^Leakmann", "Zebulon_Phiworthy")


def _with_phi(name: str, patient: str = PHI[0]) -> bytes:
    ds = pydicom.dcmread(dicom(name))
    ds.PatientName = patient
    ds.PatientID = PHI[1]
    ds.PatientBirthDate = PHI[2]
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _everything_stored() -> str:
    """Every text the product kept about DICOM studies: job rows, study rows, instance records, ledger."""
    parts: list[Any] = []
    for job in MediaJob.objects.all():
        parts += [job.params, job.result, job.error_message, job.error_code, job.stage, job.checkpoints]
    for study in DicomStudy.objects.all():
        parts += [study.headline, study.findings, study.passive, study.comparison, study.modalities]
    for record in DicomInstanceRecord.objects.all():
        parts += [record.findings, record.record, record.modality, record.sop_instance_uid]
    parts += [entry.entry for entry in LedgerEntry.objects.all()]
    return json.dumps(parts, default=str)


def test_no_phi_reaches_logs_jobs_rows_ledger_api_or_alerts(
    clinic_a: Any, caplog: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    from core.models import User

    caplog.set_level(logging.DEBUG)
    officer = clinic_a.compliance
    User.objects.filter(pk=officer.pk).update(email="officer@alpha.example")
    original = _with_phi("CT_small.dcm")
    pixels = pydicom.dcmread(io.BytesIO(original))
    array = pixels.pixel_array.copy()
    array[80:104, 70:94] = array[30:54, 40:64]  # a copy-move edit, so the examination alerts
    pixels.PixelData = array.tobytes()
    pixels.PatientName = PHI[3]
    buffer = io.BytesIO()
    pixels.save_as(buffer)
    tampered = buffer.getvalue()
    truncated = _with_phi("MR_small.dcm")[:-200]
    client = api_client(officer)
    bodies: list[str] = []

    def upload(data: bytes, name: str, **fields: Any) -> DicomStudy:
        response = client.post(
            "/api/v1/dicom/studies/", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart"
        )
        assert response.status_code == 202, response.content
        study = DicomStudy.objects.get(id=response.json()["id"])
        with django_capture_on_commit_callbacks(execute=True):
            run_job(study.job)
        study.refresh_from_db()
        bodies.append(client.get(f"/api/v1/dicom/studies/{study.id}/").content.decode())
        return study

    signed = upload(zipped((f"{PHI[4]}/1.dcm", original), (f"{PHI[4]}/2.dcm", truncated)), f"{PHI[4]}.zip")
    assert signed.verdict == "signed" and signed.refused_count == 1
    checked = upload(tampered, f"{PHI[4]}.dcm", reference=str(signed.id))
    assert checked.verdict == "pixels_changed", checked.headline
    examined = upload(tampered, f"{PHI[4]}.dcm", purpose="examine")
    assert examined.verdict == "unsigned_evidence", examined.headline
    with pytest.raises(ApplicationError) as caught:  # a refusal names the member by number only
        dicom_study_start(
            actor=officer,
            file=SimpleUploadedFile(
                "s.zip", zipped(("1.dcm", original), (f"{PHI[4]}/{PHI[0]}.txt", b"x" * 300))
            ),
        )
    messages = [caught.value.message, *(m.subject + m.body for m in mail.outbox)]
    assert mail.outbox  # the examination's alert was sent, and is checked below

    stored = _everything_stored()
    logs = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert logs and stored  # there is something to look through
    for value in (*PHI, "Phiworthy", "Leakmann", "7731"):
        assert value not in logs, value
        assert value not in stored, value
        assert all(value not in body for body in bodies), value
        assert all(value not in message for message in messages), value
