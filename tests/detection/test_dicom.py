"""DICOM studies end to end: ingest signs each valid instance in the ledger, a later copy is checked
against the signed records, bad input leaves nothing behind, and only the scanner roles get in."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.dataset import Dataset

from consent.models import LedgerEntry
from core.errors import ApplicationError
from detection.models import DicomStudy, ScanStatus
from detection.services.dicom import dicom_study_start
from tests.media_location import SHARED_MEDIA
from tests.support import signed_in_client

DICOM = SHARED_MEDIA / "medical" / "dicom"


def dicom(name: str) -> Path:
    path = DICOM / name
    if not path.exists():
        pytest.skip(
            f"{path} is absent (../shared/media is for internal evaluation and not in every checkout)"
        )
    return path


def run_job(job: Any) -> None:
    from core.job_kinds import job_kind_get

    job_kind_get(job.kind).task(str(job.id))
    job.refresh_from_db()


def started(actor: Any, data: bytes, name: str = "study.dcm", reference: Any = None) -> DicomStudy:
    study = dicom_study_start(
        actor=actor, file=SimpleUploadedFile(name, data), reference_id=reference.id if reference else None
    )
    run_job(study.job)
    study.refresh_from_db()
    return study


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def edited(path: Path, edit: Callable[[Dataset], None]) -> bytes:
    ds = pydicom.dcmread(path)
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def test_ingest_signs_every_valid_instance_in_the_ledger(clinic_a: Any) -> None:
    data = zipped(
        ("s/1.dcm", dicom("MR_small.dcm").read_bytes()),
        ("s/2.dcm", dicom("CT_small.dcm").read_bytes()),
        ("s/3.dcm", dicom("MR_truncated.dcm").read_bytes()),
    )

    study = started(clinic_a.compliance, data, "Doe^John.zip")

    assert study.job.status == "succeeded", study.job.error_message
    assert study.status == ScanStatus.DONE and study.verdict == "signed"
    assert (study.instance_count, study.refused_count) == (3, 1)
    assert study.headline == "Signed at ingest: 2 instance(s); 1 instance(s) refused."
    refused = study.instances.get(refused=True)
    assert [f["code"] for f in refused.findings] == ["truncated"]
    signed = LedgerEntry.objects.filter(event_type="dicom.instance.signed", object_id=str(study.id))
    uids = sorted(json.loads(e.entry)["data"]["sop_instance_uid"] for e in signed)
    assert uids == sorted(i.sop_instance_uid for i in study.instances.filter(refused=False))
    entry = json.loads(signed.first().entry)["data"]
    assert set(entry) == {
        "sop_instance_uid",
        "file_sha256",
        "pixel_sha256",
        "attributes_sha256",
        "other_sha256",
        "tiles_sha256",
    }
    assert LedgerEntry.objects.filter(event_type="dicom.study.signed", object_id=str(study.id)).exists()
    # The original file name (often the patient's) is kept nowhere.
    assert "Doe" not in json.dumps(study.job.result) and not hasattr(study, "original_name")


def test_a_study_with_no_valid_instance_is_refused_with_its_reasons(clinic_a: Any) -> None:
    study = started(clinic_a.compliance, dicom("rtplan_truncated.dcm").read_bytes())

    assert study.verdict == "refused"
    (instance,) = study.instances.all()
    assert "truncated" in [f["code"] for f in instance.findings]
    assert not LedgerEntry.objects.filter(
        event_type="dicom.instance.signed", object_id=str(study.id)
    ).exists()
    assert LedgerEntry.objects.filter(event_type="dicom.study.refused", object_id=str(study.id)).exists()


def test_a_lossless_copy_is_reported_as_an_encoding_change(clinic_a: Any) -> None:
    signed = started(clinic_a.compliance, dicom("MR_small.dcm").read_bytes())

    check = started(clinic_a.admin, dicom("MR_small_jp2klossless.dcm").read_bytes(), reference=signed)

    assert check.verdict == "encoding_changed", check.headline
    assert check.comparison["instances"][0]["encoding_note"].endswith(
        "→ JPEG 2000 Image Compression (Lossless Only)."
    )
    entry = LedgerEntry.objects.get(event_type="dicom.check", object_id=str(check.id))
    assert json.loads(entry.entry)["data"]["verdict"] == "encoding_changed"


def test_the_padded_copy_is_identical_pixels_with_changed_encoding(clinic_a: Any) -> None:
    signed = started(clinic_a.compliance, dicom("MR_small.dcm").read_bytes())

    check = started(clinic_a.compliance, dicom("MR_small_padded.dcm").read_bytes(), reference=signed)

    assert check.verdict == "encoding_changed"
    assert check.headline == "Same pixels and clinical attributes as signed; only the encoding changed."


def test_an_unchanged_copy_and_a_tampered_one(clinic_a: Any) -> None:
    path = dicom("CT_small.dcm")
    signed = started(clinic_a.compliance, path.read_bytes())

    same = started(clinic_a.compliance, path.read_bytes(), reference=signed)

    def inject(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[70:80, 20:30] += 300
        ds.PixelData = pixels.tobytes()

    tampered = started(clinic_a.compliance, edited(path, inject), reference=signed)

    assert same.verdict == "unchanged"
    assert tampered.verdict == "pixels_changed"
    assert tampered.headline == "Pixels changed in 1 instance(s), 1 region(s)."
    assert tampered.comparison["instances"][0]["regions"] == [
        {"frame": 0, "top": 64, "left": 0, "bottom": 96, "right": 32, "tiles": 1}
    ]


def test_a_metadata_edit_names_the_attribute(clinic_a: Any) -> None:
    path = dicom("CT_small.dcm")
    signed = started(clinic_a.compliance, path.read_bytes())

    def shift(ds: Dataset) -> None:
        ds.ImagePositionPatient = ["0", "0", "0"]

    check = started(clinic_a.compliance, edited(path, shift), reference=signed)

    assert check.verdict == "metadata_changed"
    assert check.headline == "Metadata changed: ImagePositionPatient."


def test_a_non_dicom_file_is_refused_and_leaves_nothing(clinic_a: Any) -> None:
    before = DicomStudy.objects.count()
    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(actor=clinic_a.compliance, file=SimpleUploadedFile("x.dcm", b"hello" * 100))

    assert caught.value.status == 415
    assert DicomStudy.objects.count() == before
    assert not default_storage.exists(f"dicom/{clinic_a.clinic.id}")


def test_a_zip_without_dicom_is_refused_at_upload_with_a_clear_message(clinic_a: Any) -> None:
    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(
            actor=clinic_a.compliance,
            file=SimpleUploadedFile("x.zip", zipped(("readme.txt", b"nothing" * 40))),
        )

    assert caught.value.status == 415
    assert caught.value.message.startswith("File #1 of 1 in the zip is not a DICOM file")
    assert not DicomStudy.objects.exists()


def test_a_check_needs_a_signed_study_of_the_same_clinic(clinic_a: Any, clinic_b: Any) -> None:
    signed = started(clinic_a.compliance, dicom("MR_small.dcm").read_bytes())

    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(
            actor=clinic_b.compliance,
            file=SimpleUploadedFile("a.dcm", dicom("MR_small.dcm").read_bytes()),
            reference_id=signed.id,
        )
    assert caught.value.status == 404


def test_only_compliance_officers_and_clinic_admins_may_upload(clinic_a: Any) -> None:
    with pytest.raises(ApplicationError) as caught:
        dicom_study_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("a.dcm", dicom("MR_small.dcm").read_bytes())
        )
    assert caught.value.status == 403


def test_the_pages_sign_a_study_show_the_viewer_and_flag_a_tampered_copy(clinic_a: Any) -> None:
    from PIL import Image

    client = signed_in_client(clinic_a.compliance)
    path = dicom("CT_small.dcm")

    response = client.post("/scanner/dicom/", {"file": SimpleUploadedFile("a.dcm", path.read_bytes())})
    assert response.status_code == 302
    study = DicomStudy.objects.get(id=response.url.rstrip("/").rsplit("/", 1)[-1])
    run_job(study.job)
    page = client.get(response.url)
    assert page.status_code == 200
    assert b'data-verdict="signed"' in page.content and b'id="dicom-slice"' in page.content

    png = client.get(f"/scanner/dicom/{study.id}/slices/0.png?wc=40&ww=400")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (128, 128)
    narrow = client.get(f"/scanner/dicom/{study.id}/slices/0.png?wc=40&ww=10").content
    assert narrow != png.content  # the window changes the picture
    assert client.get(f"/scanner/dicom/{study.id}/slices/1.png").status_code == 404

    def inject(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[70:80, 20:30] += 300
        ds.PixelData = pixels.tobytes()

    response = client.post(
        "/scanner/dicom/",
        {"file": SimpleUploadedFile("b.dcm", edited(path, inject)), "reference": str(study.id)},
    )
    check = DicomStudy.objects.get(id=response.url.rstrip("/").rsplit("/", 1)[-1])
    run_job(check.job)
    page = client.get(response.url)
    assert b'data-verdict="pixels_changed"' in page.content
    assert b"frame 0: rows 64\xe2\x80\x9396, columns 0\xe2\x80\x9332" in page.content
    outlined = Image.open(io.BytesIO(client.get(f"/scanner/dicom/{check.id}/slices/0.png?overlay=1").content))
    assert outlined.mode == "RGB" and outlined.getpixel((0, 64)) == (255, 40, 40)


def test_other_roles_and_clinics_are_kept_out_of_the_pages(clinic_a: Any, clinic_b: Any) -> None:
    study = started(clinic_a.compliance, dicom("MR_small.dcm").read_bytes())

    assert signed_in_client(clinic_a.clinician).get("/scanner/dicom/").status_code == 403
    other = signed_in_client(clinic_b.compliance)
    assert other.get(f"/scanner/dicom/{study.id}/").status_code == 404
    assert other.get(f"/scanner/dicom/{study.id}/slices/0.png").status_code == 404


def test_the_viewer_shows_copy_move_evidence_with_its_heatmap(clinic_a: Any) -> None:
    from PIL import Image

    path = dicom("CT_small.dcm")

    def copy_region(ds: Dataset) -> None:
        pixels = ds.pixel_array.copy()
        pixels[80:104, 70:94] = pixels[30:54, 40:64]
        ds.PixelData = pixels.tobytes()

    clean = started(clinic_a.compliance, path.read_bytes())
    tampered = started(clinic_a.compliance, edited(path, copy_region))
    client = signed_in_client(clinic_a.compliance)

    page = client.get(f"/scanner/dicom/{tampered.id}/?slice=0&evidence=1")
    assert page.status_code == 200
    assert b'id="copy-move"' in page.content and b"rows 50, columns 30" in page.content
    assert b'data-score="0.0"' in client.get(f"/scanner/dicom/{clean.id}/?evidence=1").content

    png = client.get(f"/scanner/dicom/{tampered.id}/slices/0.png?evidence=1&wc=40&ww=400").content
    heat = Image.open(io.BytesIO(png)).convert("RGB")
    red, green, _ = heat.getpixel((80, 90))  # inside the copy
    assert red > green + 60
    assert heat.getpixel((5, 5))[0] == heat.getpixel((5, 5))[1]  # untouched corner stays grey


def test_the_viewer_walks_every_frame_of_a_zipped_study(clinic_a: Any) -> None:
    from PIL import Image

    data = zipped(
        ("a/mr.dcm", dicom("MR_small.dcm").read_bytes()),
        ("a/ct.dcm", dicom("CT_small.dcm").read_bytes()),
        ("a/dose.dcm", dicom("rtdose.dcm").read_bytes()),
        ("a/broken.dcm", dicom("MR_truncated.dcm").read_bytes()),
    )
    study = started(clinic_a.compliance, data, "study.zip")
    client = signed_in_client(clinic_a.compliance)

    assert study.frame_count == 17
    sizes = [
        Image.open(io.BytesIO(client.get(f"/scanner/dicom/{study.id}/slices/{n}.png").content)).size
        for n in range(17)
    ]
    assert sorted(sizes) == [(10, 10)] * 15 + [(64, 64), (128, 128)]
    assert client.get(f"/scanner/dicom/{study.id}/slices/17.png").status_code == 404
    page = client.get(f"/scanner/dicom/{study.id}/?slice=16")
    assert b"Slice 17 of 17" in page.content


def test_the_api_signs_a_study_checks_a_copy_and_reports_the_verdict(clinic_a: Any, clinic_b: Any) -> None:
    from tests.support import api_client

    client = api_client(clinic_a.compliance)
    response = client.post(
        "/api/v1/dicom/studies/",
        {"file": SimpleUploadedFile("a.dcm", dicom("MR_small.dcm").read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    signed = DicomStudy.objects.get(id=response.json()["id"])
    run_job(signed.job)

    response = client.post(
        "/api/v1/dicom/studies/",
        {
            "file": SimpleUploadedFile("b.dcm", dicom("MR_small_RLE.dcm").read_bytes()),
            "reference": str(signed.id),
        },
        format="multipart",
    )
    check = DicomStudy.objects.get(id=response.json()["id"])
    run_job(check.job)
    body = client.get(f"/api/v1/dicom/studies/{check.id}/").json()

    assert body["verdict"] == "encoding_changed" and body["reference"] == str(signed.id)
    assert body["comparison"]["instances"][0]["encoding_note"].endswith("→ RLE Lossless.")
    assert body["instances"][0]["pixel_sha256"] and body["instances"][0]["findings"] == []
    assert [s["id"] for s in client.get("/api/v1/dicom/studies/").json()["results"]] == [
        str(check.id),
        str(signed.id),
    ]
    refused = client.post(
        "/api/v1/dicom/studies/", {"file": SimpleUploadedFile("x.dcm", b"hello" * 50)}, format="multipart"
    )
    assert refused.status_code == 415
    assert api_client(clinic_b.compliance).get(f"/api/v1/dicom/studies/{check.id}/").status_code == 404
    assert api_client(clinic_a.clinician).get("/api/v1/dicom/studies/").status_code == 403


def test_the_viewer_compares_a_slice_with_the_previous_one(clinic_a: Any) -> None:
    path = dicom("examples_ybr_color.dcm")

    def paste_from_previous_frame(ds: Dataset) -> None:
        ds.decompress()
        frames = ds.pixel_array.copy()
        frames[1, 150:182, 200:232] = frames[0, 100:132, 120:152]
        ds.PixelData = frames.tobytes()

    study = started(clinic_a.compliance, edited(path, paste_from_previous_frame))
    client = signed_in_client(clinic_a.compliance)

    page = client.get(f"/scanner/dicom/{study.id}/?slice=1&evidence=1")
    assert b'id="copy-move-previous"' in page.content
    assert b"at rows 50, columns 80" in page.content
    first = client.get(f"/scanner/dicom/{study.id}/?slice=0&evidence=1")
    assert b'id="copy-move-previous"' not in first.content


def copy_region(ds: Dataset) -> None:
    """A region of CT_small copied 50 rows down, 30 columns right (a copy-move edit)."""
    pixels = ds.pixel_array.copy()
    pixels[80:104, 70:94] = pixels[30:54, 40:64]
    ds.PixelData = pixels.tobytes()


def examined(actor: Any, data: bytes, capture: Any) -> DicomStudy:
    study = dicom_study_start(actor=actor, file=SimpleUploadedFile("x.dcm", data), examine=True)
    with capture(execute=True):
        run_job(study.job)
    study.refresh_from_db()
    return study


def test_an_unsigned_untouched_study_is_examined_with_no_evidence_found(
    clinic_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    data = zipped(
        ("a/mr.dcm", dicom("MR_small.dcm").read_bytes()), ("a/ct.dcm", dicom("CT_small.dcm").read_bytes())
    )

    study = examined(clinic_a.compliance, data, django_capture_on_commit_callbacks)

    assert study.job.status == "succeeded", study.job.error_message
    assert (study.purpose, study.verdict) == ("examine", "unsigned_clean"), study.headline
    assert study.headline.startswith("Unsigned: no evidence found in 2 slice(s)")
    assert [s["slice"] for s in study.passive["slices"]] == [0, 1]
    assert study.passive["suspect"] == []
    assert set(study.passive["methods"]) == {"copy_move", "copy_move_previous", "noise"}
    assert not study.alerting and mail.outbox == []
    entry = LedgerEntry.objects.get(event_type="dicom.examined", object_id=str(study.id))
    assert json.loads(entry.entry)["data"]["verdict"] == "unsigned_clean"
    # An examination signs nothing: a later copy cannot be checked against it.
    assert not LedgerEntry.objects.filter(
        event_type="dicom.instance.signed", object_id=str(study.id)
    ).exists()


def test_an_unsigned_tampered_study_is_flagged_with_a_heatmap_and_an_alert(
    clinic_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail
    from PIL import Image

    from core.models import User

    User.objects.filter(pk=clinic_a.compliance.pk).update(email="officer@alpha.example")
    study = examined(
        clinic_a.admin, edited(dicom("CT_small.dcm"), copy_region), django_capture_on_commit_callbacks
    )

    assert study.verdict == "unsigned_evidence", study.headline
    assert study.headline == "Unsigned: tampering evidence on slice(s) 1 (copy-move within the slice)."
    (slice_,) = study.passive["slices"]
    assert slice_["flagged"] == ["copy_move"] and slice_["shifts"]["copy_move"] == [50, 30]
    assert slice_["heatmap"].startswith(f"jobs/{study.job_id}/")  # the job's final output key
    client = signed_in_client(clinic_a.compliance)
    page = client.get(f"/scanner/dicom/{study.id}/")
    assert b'id="passive"' in page.content and b"Measured accuracy" in page.content
    assert b"TPR 0.692 at FPR 0.016" in page.content  # the method's measured accuracy beside the score
    heat = Image.open(
        io.BytesIO(b"".join(client.get(f"/scanner/dicom/{study.id}/heatmaps/0.png").streaming_content))
    )
    red, green, _ = heat.convert("RGB").getpixel((80, 90))  # inside the copy
    assert red > green + 60
    assert client.get(f"/scanner/dicom/{study.id}/heatmaps/1.png").status_code == 404
    (message,) = mail.outbox
    assert message.to == ["officer@alpha.example"] and f"/scanner/dicom/{study.id}/" in message.body
    assert "Medical image alert" in message.subject
    # The compliance home lists it with the scanner's alerts.
    assert f"/scanner/dicom/{study.id}/" in client.get("/").content.decode()
    entry = json.loads(LedgerEntry.objects.get(event_type="dicom.examined", object_id=str(study.id)).entry)
    assert entry["data"]["suspect_slices"] == [0] and entry["data"]["flags"] == ["copy_move"]


def test_an_examination_cannot_also_be_a_check(clinic_a: Any) -> None:
    signed = started(clinic_a.compliance, dicom("MR_small.dcm").read_bytes())

    with pytest.raises(ApplicationError) as error:
        dicom_study_start(
            actor=clinic_a.compliance,
            file=SimpleUploadedFile("x.dcm", dicom("MR_small.dcm").read_bytes()),
            reference_id=signed.id,
            examine=True,
        )

    assert error.value.status == 400
    assert DicomStudy.objects.count() == 1


def test_the_api_examines_an_unsigned_study(clinic_a: Any) -> None:
    from tests.support import api_client

    client = api_client(clinic_a.compliance)
    response = client.post(
        "/api/v1/dicom/studies/",
        {
            "file": SimpleUploadedFile("x.dcm", edited(dicom("CT_small.dcm"), copy_region)),
            "purpose": "examine",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    study = DicomStudy.objects.get(id=response.json()["id"])
    assert study.purpose == "examine"
    run_job(study.job)

    detail = client.get(f"/api/v1/dicom/studies/{study.id}/").json()

    assert detail["verdict"] == "unsigned_evidence"
    assert detail["passive"]["suspect"] == [0]
    assert detail["passive"]["methods"]["noise"]["limits"]


def test_an_unknown_purpose_is_refused_by_the_api_and_leaves_nothing(clinic_a: Any) -> None:
    from tests.support import api_client

    response = api_client(clinic_a.compliance).post(
        "/api/v1/dicom/studies/",
        {"file": SimpleUploadedFile("x.dcm", dicom("MR_small.dcm").read_bytes()), "purpose": "repair"},
        format="multipart",
    )

    assert response.status_code == 400 and "purpose" in response.json()["extra"]["fields"]
    assert not DicomStudy.objects.exists()
