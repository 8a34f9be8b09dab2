"""Scans end to end: upload (single and batch), the scan job, the recorded verdict, the ledger, access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consent.models import LedgerEntry
from core.errors import ApplicationError
from detection.models import Scan, ScanStatus
from detection.selectors import scan_get, scan_list
from detection.services.scans import scans_start
from tests.media_location import SHARED_MEDIA
from tests.support import signed_in_client

MEDIA = SHARED_MEDIA


def shared(relative: str) -> Path:
    path = MEDIA / relative
    if not path.exists():
        pytest.skip(
            f"{path} is absent (../shared/media is for internal evaluation and not in every checkout)"
        )
    return path


def as_upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def run_job(job: Any) -> None:
    """Run a job's task in this process, as a worker would."""
    from core.job_kinds import job_kind_get

    job_kind_get(job.kind).task(str(job.id))
    job.refresh_from_db()


def scanned(actor: Any, *paths: Path) -> list[Scan]:
    """Start scans of `paths` as `actor`, run their jobs, and return the scans as recorded."""
    scans = scans_start(actor=actor, files=[as_upload(p) for p in paths])
    for scan in scans:
        run_job(scan.job)
        scan.refresh_from_db()
    return scans


def enroll_portrait(clinician: Any, photo: Path) -> None:
    """A ready portrait enrollment of `clinician` from `photo`.

    Recorded directly: the studio's own portrait checks ask for a closed mouth (for animation), which
    the scanner's identity match does not need.
    """
    from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus
    from core.uploads import Scratch, upload_check, upload_record

    with Scratch() as scratch:
        checked = upload_check(file=as_upload(photo), kinds={"image"}, scratch=scratch)
        upload_record(
            actor=clinician,
            checked=checked,
            purpose="enrollment_photo",
            then=lambda upload: Enrollment.objects.create(
                clinic_id=clinician.clinic_id,
                clinician=clinician,
                kind=EnrollmentKind.PORTRAIT,
                photo=upload,
                status=EnrollmentStatus.READY,
                created_by=clinician,
            ),
        )


def test_a_scanned_video_of_nobody_enrolled_gets_no_clinician_found_and_a_ledger_entry(
    clinic_a: Any, tiny_video: Path
) -> None:
    (scan,) = scanned(clinic_a.compliance, tiny_video)

    assert scan.job.status == "succeeded", scan.job.error_message
    assert scan.status == ScanStatus.DONE
    assert scan.verdict_kind == "no enrolled clinician found"
    assert "provenance" in scan.scores and scan.explanation
    entry = LedgerEntry.objects.get(event_type="scan.verdict", object_id=str(scan.id))
    assert entry.clinic_id == clinic_a.clinic.id
    assert json.loads(entry.entry)["data"] == {
        "sha256": scan.sha256,
        "verdict": scan.verdict_kind,
        "flags": [],
    }


def test_a_photo_of_an_enrolled_clinician_without_provenance_names_the_clinician(clinic_a: Any) -> None:
    enroll_portrait(clinic_a.clinician, shared("faces/named/train/obama/obama2.jpg"))

    (scan,) = scanned(clinic_a.compliance, shared("faces/named/test/obama1.jpg"))

    assert scan.status == ScanStatus.DONE, scan.error_code
    assert scan.matched_clinician == clinic_a.clinician
    assert scan.verdict_kind == "clinician depicted, origin unverified", scan.explanation
    assert scan.scores["face_identity"]["flagged"]


def test_a_photo_of_someone_else_finds_no_enrolled_clinician(clinic_a: Any) -> None:
    enroll_portrait(clinic_a.clinician, shared("faces/named/train/obama/obama2.jpg"))

    (scan,) = scanned(clinic_a.compliance, shared("faces/named/test/alex_lacamoire1.jpg"))

    assert scan.verdict_kind == "no enrolled clinician found"
    assert scan.matched_clinician is None


def test_a_batch_shares_one_batch_id_and_queues_one_job_per_file(clinic_a: Any, tiny_video: Path) -> None:
    scans = scans_start(
        actor=clinic_a.admin, files=[as_upload(tiny_video, "a.mp4"), as_upload(tiny_video, "b.mp4")]
    )

    assert len(scans) == 2
    assert scans[0].batch_id is not None and scans[0].batch_id == scans[1].batch_id
    assert scans[0].job_id != scans[1].job_id
    assert {s.job.kind for s in scans} == {"scan"}


def test_a_batch_with_one_bad_file_stores_nothing(clinic_a: Any, tiny_video: Path) -> None:
    with pytest.raises(ApplicationError) as refused:
        scans_start(
            actor=clinic_a.compliance,
            files=[as_upload(tiny_video), SimpleUploadedFile("notes.txt", b"not media at all")],
        )

    assert refused.value.code == "upload_unknown_type"
    assert not Scan.objects.exists()


def test_a_file_that_cannot_be_read_at_scan_time_fails_the_scan_with_its_reason_and_the_worker_lives_on(
    clinic_a: Any, tiny_video: Path
) -> None:
    """The stored copy is damaged after the upload check (a storage fault, a truncated copy): the job
    ends failed with a reason the page shows, no verdict is recorded, and the next scan still runs."""
    from django.core.files.storage import default_storage

    broken, fine = scans_start(
        actor=clinic_a.compliance, files=[as_upload(tiny_video), as_upload(tiny_video)]
    )
    with default_storage.open(broken.upload.storage_key, "wb") as stored:
        stored.write(b"\x00\x00\x00\x18ftypisom" + b"\xff" * 4000)
    run_job(broken.job)
    run_job(fine.job)
    broken.refresh_from_db()
    fine.refresh_from_db()

    assert broken.status == ScanStatus.FAILED and broken.error_code.startswith("media_")
    assert broken.verdict_kind == "" and not broken.alerting
    assert fine.status == ScanStatus.DONE
    page = signed_in_client(clinic_a.compliance).get(f"/scanner/scans/{broken.id}/")
    assert page.status_code == 200
    assert b"The scan failed" in page.content and b"damaged" in page.content


@pytest.mark.parametrize("role", ["clinician", "patient"])
def test_only_compliance_officers_and_clinic_admins_may_scan(
    clinic_a: Any, tiny_video: Path, role: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        scans_start(actor=clinic_a.by_role[role], files=[as_upload(tiny_video)])

    assert refused.value.status == 403


def test_another_clinics_scans_are_invisible(clinic_a: Any, clinic_b: Any, tiny_video: Path) -> None:
    (scan,) = scans_start(actor=clinic_a.compliance, files=[as_upload(tiny_video)])

    assert list(scan_list(user=clinic_b.compliance)) == []
    with pytest.raises(ApplicationError) as refused:
        scan_get(user=clinic_b.compliance, scan_id=scan.id)
    assert refused.value.status == 404
    assert list(scan_list(user=clinic_a.clinician)) == []


@pytest.fixture
def platform_render(texts: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """A stock-presenter video of clinic alpha, rendered, watermarked, signed and registered."""
    from provenance.index import fingerprint_index_reset
    from tests.avatars.test_studio import _stock_video

    # Earlier tests rolled their rows back; a reused row id would confuse the shared index.
    fingerprint_index_reset()
    video = _stock_video(texts, django_capture_on_commit_callbacks)
    yield video
    fingerprint_index_reset()


def test_a_platform_render_is_authorized_then_consent_withdrawn_and_a_changed_copy_is_tampered(
    platform_render: Any, texts: Any, tmp_path: Path
) -> None:
    from django.core.files.storage import default_storage

    from avatars.services import video_withdraw

    rendered = Path(default_storage.path(platform_render.video_key))
    (authorized,) = scanned(texts.compliance, rendered)

    changed = bytearray(rendered.read_bytes())
    changed[len(changed) // 2] ^= 0xFF
    (tampered,) = scanned(texts.compliance, _written(tmp_path / "changed.mp4", bytes(changed)))

    video_withdraw(video=platform_render, reason="consent_revoked", actor=None)
    (withdrawn,) = scanned(texts.compliance, rendered)

    assert authorized.verdict_kind == "authorized", authorized.explanation
    assert authorized.scores["provenance"]["flagged"]
    assert tampered.verdict_kind == "provenance tampered", tampered.explanation
    assert withdrawn.verdict_kind == "consent withdrawn", withdrawn.explanation
    assert withdrawn.alerting and tampered.alerting and not authorized.alerting


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_real_clip_of_an_enrolled_clinician_is_unverified_and_its_dubbed_copy_a_suspected_deepfake(
    clinic_a: Any, tmp_path: Path
) -> None:
    """GRID speaker enrolled from one frame; the clip re-dubbed half a second late is a lip-sync fake."""
    import numpy as np
    from PIL import Image

    from avatars.engine.media import read_audio as read_48k
    from detection.engine.media import iter_frames
    from tests.detection.engine.detection_media import write_video

    clip = shared("talking/grid/swiz3n.mpg")
    frames = [frame.rgb() for frame in iter_frames(clip)]
    sound = read_48k(clip)
    Image.fromarray(frames[0]).save(tmp_path / "portrait.png")
    enroll_portrait(clinic_a.clinician, tmp_path / "portrait.png")
    original = write_video(tmp_path / "original.mp4", iter(frames), audio=sound)
    dubbed = write_video(
        tmp_path / "dubbed.mp4", iter(frames), audio=np.concatenate([np.zeros(24_000, np.float32), sound])
    )

    real, fake = scanned(clinic_a.compliance, original, dubbed)

    who = clinic_a.clinician.printed_name
    assert real.verdict_kind == "clinician depicted, origin unverified", real.explanation
    assert real.matched_clinician == clinic_a.clinician and not real.alerting
    assert fake.verdict_kind == "suspected unauthorized deepfake", fake.explanation
    assert fake.headline == f"suspected unauthorized deepfake of {who}"
    assert fake.scores["lip_sync"]["flagged"] and fake.alerting
    assert fake.timeline  # the score-over-time series the result page plots
    if not fake.scores["visual_manipulation"]["skipped"]:  # its weights are made by a training command
        heatmap = fake.evidence.exclude(heatmap_key="").first()
        assert heatmap is not None, "the manipulation analyzer's evidence frames get a heatmap picture"
        picture = signed_in_client(clinic_a.compliance).get(
            f"/scanner/scans/{fake.id}/evidence/{heatmap.id}.png"
        )
        assert picture.status_code == 200 and b"".join(picture.streaming_content).startswith(b"\x89PNG")


def test_a_video_of_someone_else_finds_no_enrolled_clinician_among_those_enrolled(
    clinic_a: Any, tmp_path: Path
) -> None:
    from PIL import Image

    from detection.engine.media import iter_frames

    first = next(iter_frames(shared("talking/grid/swiz3n.mpg")))
    Image.fromarray(first.rgb()).save(tmp_path / "portrait.png")
    enroll_portrait(clinic_a.clinician, tmp_path / "portrait.png")

    (scan,) = scanned(clinic_a.compliance, shared("talking/grid/bbaf2n.mpg"))

    assert scan.verdict_kind == "no enrolled clinician found", scan.explanation
    assert scan.matched_clinician is None and not scan.alerting
