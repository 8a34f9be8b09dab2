"""Scans: validated single and batch uploads, one scan job each, and the recorded verdict.

The job's work (detection.tasks) runs the engine; the verdict, its evidence and its ledger entry are
written here, inside the fenced transaction that finishes the job, and the alert goes out after it
commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from consent.ledger import ledger_append
from core.errors import ApplicationError
from core.models import MediaJob, User
from core.services import job_create
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record
from detection.errors import DetectionErrorCode
from detection.models import DetectionJobKind, Scan, ScanEvidence, ScanStatus
from detection.policy import scanner_required

#: Files one batch request may carry (each is also counted by the per-user upload rate limit).
BATCH_MAX_FILES = 10
SCAN_KINDS = frozenset({"video", "image", "audio"})


def scans_start(*, actor: User, files: Sequence[UploadedFile]) -> list[Scan]:
    """Validate and store each file and queue one scan job per file; a batch shares one batch id.

    Every file is checked before any is stored, so one bad file in a batch refuses the whole batch
    and leaves nothing behind.
    """
    scanner_required(actor)
    if not files:
        raise ApplicationError("Choose at least one file to scan.", code=DetectionErrorCode.NO_FILES)
    if len(files) > BATCH_MAX_FILES:
        raise ApplicationError(
            f"At most {BATCH_MAX_FILES} files can be scanned in one batch.",
            code=DetectionErrorCode.TOO_MANY_FILES,
        )
    batch_id = uuid.uuid4() if len(files) > 1 else None
    with ExitStack() as stack:
        checked = []
        for file in files:
            upload_rate_limit(actor=actor)
            checked.append(upload_check(file=file, kinds=SCAN_KINDS, scratch=stack.enter_context(Scratch())))
        with transaction.atomic():
            return [
                upload_record(
                    actor=actor,
                    checked=one,
                    purpose="scan",
                    then=lambda upload: _scan_create(actor=actor, upload=upload, batch_id=batch_id),
                )
                for one in checked
            ]


def _scan_create(*, actor: User, upload: Any, batch_id: uuid.UUID | None) -> Scan:
    scan = Scan.objects.create(
        clinic_id=actor.member_clinic_id,
        uploaded_by=actor,
        upload=upload,
        sha256=upload.sha256,
        original_name=upload.original_name,
        kind=upload.kind,
        batch_id=batch_id,
    )
    scan.job = job_create(
        actor=actor, kind=DetectionJobKind.SCAN, input_upload=upload, params={"scan": str(scan.id)}
    )
    scan.save(update_fields=["job"])
    ledger_append(
        event_type="scan.requested",
        clinic_id=actor.clinic_id,
        object_type="scan",
        object_id=scan.id,
        actor=actor,
        data={"sha256": upload.sha256, "kind": scan.kind, "batch": str(batch_id) if batch_id else ""},
    )
    return scan


def scan_verdict_record(*, scan_id: Any, verdict: dict[str, Any]) -> Scan:
    """Record a finished scan's verdict and evidence, append it to the ledger, and alert after commit.

    `verdict` is the job's result: kind, headline, subject id, scores, timeline, explanation,
    duration and evidence; an evidence item's `heatmap` names the top-level entry holding its
    picture's final storage key.
    """
    from detection.alerts import scan_alert_send

    scan = Scan.objects.select_for_update().get(id=scan_id)
    scan.status = ScanStatus.DONE
    scan.verdict_kind = verdict["kind"]
    scan.headline = verdict["headline"][:255]
    scan.matched_clinician = _clinician(scan, verdict.get("subject_id") or "")
    scan.scores = verdict["scores"]
    scan.timeline = verdict["timeline"]
    scan.explanation = verdict["explanation"]
    scan.duration_seconds = verdict.get("duration")
    scan.finished_at = timezone.now()
    scan.save()
    ScanEvidence.objects.bulk_create(
        ScanEvidence(
            scan=scan,
            clinic_id=scan.clinic_id,
            analyzer=item["analyzer"],
            note=item["note"],
            start_seconds=item.get("start"),
            end_seconds=item.get("end"),
            frame_index=item.get("frame_index"),
            score=item.get("score"),
            heatmap_key=verdict.get(item["heatmap"], "") if item.get("heatmap") else "",
        )
        for item in verdict["evidence"]
    )
    ledger_append(
        event_type="scan.verdict",
        clinic_id=scan.clinic_id,
        object_type="scan",
        object_id=scan.id,
        subject=scan.matched_clinician,
        data={
            "sha256": scan.sha256,
            "verdict": scan.verdict_kind,
            "flags": sorted(name for name, row in scan.scores.items() if row.get("flagged")),
        },
    )
    if scan.alerting:
        transaction.on_commit(lambda: scan_alert_send(scan_id=scan.id))
    return scan


def _clinician(scan: Scan, subject_id: str) -> User | None:
    # The subject id is the clinician's user id (see detection.gallery); only one of this clinic counts.
    if not subject_id:
        return None
    try:
        return User.objects.filter(clinic_id=scan.clinic_id, id=subject_id).first()
    except (ValueError, TypeError):
        return None


def scan_job_failed(job: MediaJob, code: str) -> None:
    """The failure hook of the scan kind: the scan shows the job's error."""
    Scan.objects.filter(job=job).update(
        status=ScanStatus.FAILED, error_code=code[:64], finished_at=timezone.now()
    )
