"""Medical images: a DICOM file or zipped study signed at ingest, and later copies checked against it.

Ingest, check and examination are media jobs (detection.tasks_dicom); the engine
(detection.engine.dicom) does the reading, the structural checks, the integrity records and the passive
tampering evidence. Here: the upload, the job, and the results written inside the fenced transaction
that finishes the job, with their ledger entries: one `dicom.instance.signed` per accepted instance at
ingest (SOP Instance UID and digests: the signed record), one `dicom.study.signed`, `dicom.check` or
`dicom.examined` per study; an alerting verdict alerts the clinic's compliance officers after commit,
as a scan's does. Nothing here logs or stores a value of the file other than UIDs, digests, modality
and transfer syntax.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from consent.ledger import ledger_append
from core.errors import ApplicationError, CoreErrorCode
from core.models import MediaJob, User
from core.services import job_create
from core.uploads import ReceivedFile, Scratch, upload_rate_limit, upload_receive, upload_store
from detection.errors import DetectionErrorCode
from detection.models import (
    DicomInstanceRecord,
    DicomJobKind,
    DicomPurpose,
    DicomStudy,
    DicomVerdict,
    ScanStatus,
)
from detection.policy import scanner_required


def dicom_study_start(
    *, actor: User, file: UploadedFile | None, reference_id: Any = None, examine: bool = False
) -> DicomStudy:
    """Store an uploaded DICOM file or zipped study and queue its ingest (or, with `reference_id`, its
    check against that signed study; or, with `examine`, a passive examination of a study that has no
    signed record). A refused upload leaves neither a row nor a stored file."""
    scanner_required(actor)
    if file is None:
        raise ApplicationError("Choose a DICOM file or a zipped study.", code=DetectionErrorCode.NO_FILES)
    if examine and reference_id:
        raise ApplicationError(
            "A study is either checked against a signed study or examined without one, not both.",
            code=DetectionErrorCode.INVALID_INPUT,
        )
    reference = None
    if reference_id:
        reference = (
            DicomStudy.objects.filter(
                clinic_id=actor.member_clinic_id,
                id=reference_id,
                purpose=DicomPurpose.INGEST,
                verdict=DicomVerdict.SIGNED,
            ).first()
            if _is_uuid(reference_id)
            else None
        )
        if reference is None:
            raise ApplicationError(
                "The study to check against is not a signed study of this clinic.",
                code=DetectionErrorCode.NOT_FOUND,
                status=404,
            )
    upload_rate_limit(actor=actor)
    with Scratch() as scratch:
        received = upload_receive(file=file, scratch=scratch)
        probed = dicom_upload_probe(received.path)
        study_id = uuid.uuid4()
        key = f"dicom/{actor.member_clinic_id}/{study_id}/original.{'zip' if probed.is_zip else 'dcm'}"
        return upload_store(
            path=received.path,
            key=key,
            then=lambda stored: _study_create(
                actor=actor,
                study_id=study_id,
                stored=stored,
                received=received,
                is_zip=probed.is_zip,
                reference=reference,
                examine=examine,
            ),
        )


def dicom_upload_probe(path: Path) -> Any:
    """The engine's judgement of a received upload (a DICOM file, or a zip of nothing but DICOM files
    within the unpacking limits), as the refusal the upload pages and API show."""
    from detection.engine.dicom import DicomInputError, probe_upload

    try:
        return probe_upload(path)
    except DicomInputError as exc:
        code, status = _REFUSALS.get(exc.reason, (CoreErrorCode.INVALID_INPUT, 422))
        raise ApplicationError(str(exc), code=code, status=status) from exc


_REFUSALS = {
    "not_dicom": (CoreErrorCode.UPLOAD_UNKNOWN_TYPE, 415),
    "too_large": (CoreErrorCode.UPLOAD_TOO_LARGE, 413),
    "damaged": (CoreErrorCode.INVALID_INPUT, 422),
}


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _study_create(
    *,
    actor: User,
    study_id: uuid.UUID,
    stored: str,
    received: ReceivedFile,
    is_zip: bool,
    reference: DicomStudy | None,
    examine: bool,
) -> DicomStudy:
    sha256 = received.sha256
    purpose, kind = (
        (DicomPurpose.CHECK, DicomJobKind.CHECK)
        if reference
        else (DicomPurpose.EXAMINE, DicomJobKind.EXAMINE)
        if examine
        else (DicomPurpose.INGEST, DicomJobKind.INGEST)
    )
    study = DicomStudy.objects.create(
        id=study_id,
        clinic_id=actor.member_clinic_id,
        uploaded_by=actor,
        purpose=purpose,
        reference=reference,
        storage_key=stored,
        sha256=sha256,
        size_bytes=received.size_bytes,
        is_zip=is_zip,
    )
    study.job = job_create(actor=actor, kind=kind, params={"study": str(study.id)})
    study.save(update_fields=["job"])
    ledger_append(
        event_type="dicom.requested",
        clinic_id=actor.member_clinic_id,
        object_type="dicom_study",
        object_id=study.id,
        actor=actor,
        data={
            "sha256": sha256,
            "purpose": study.purpose,
            "reference": str(reference.id) if reference else "",
        },
    )
    return study


def study_read(storage_key: str) -> Any:
    """The stored study, read by the engine (raises DicomInputError for a non-DICOM upload)."""
    from detection.engine.dicom import read_upload

    with default_storage.open(storage_key, "rb") as handle:
        data = handle.read()
    return read_upload(data)


def study_instance_read(study: DicomStudy, upload_index: int) -> Any:
    """One instance of a stored study, decoded; the other files of a zipped study are not read."""
    from detection.engine.dicom import read_instance, read_zip_member

    with default_storage.open(study.storage_key, "rb") as handle:
        if study.is_zip:
            # A stored File reads, seeks and tells like the binary file it wraps (zipfile needs those).
            return read_zip_member(cast(BinaryIO, handle), upload_index)
        return read_instance(handle.read())


def dicom_signed_records(*, study_id: Any) -> list[dict[str, Any]]:
    """The integrity records of a signed study's accepted instances (for a check job)."""
    return list(
        DicomInstanceRecord.objects.filter(study_id=study_id, refused=False)
        .exclude(record={})
        .values_list("record", flat=True)
    )


def dicom_result_record(*, study_id: Any, result: dict[str, Any]) -> DicomStudy:
    """Record a finished ingest, check or examination: instances, verdict, passive evidence (each
    suspect slice's `heatmap` names the top-level result entry holding its picture's final storage
    key), the ledger entries, and the alert after commit."""
    from detection.alerts import dicom_alert_send

    study = DicomStudy.objects.select_for_update().get(id=study_id)
    study.status = ScanStatus.DONE
    study.verdict = result["verdict"]
    study.headline = result["headline"][:255]
    study.modalities = ",".join(result["modalities"])[:64]
    study.instance_count = len(result["instances"])
    study.refused_count = sum(1 for i in result["instances"] if i["refused"])
    study.frame_count = sum(i["frames"] for i in result["instances"])
    study.findings = result["findings"]
    study.comparison = result.get("comparison") or {}
    passive = result.get("passive") or {}
    if passive:
        passive = {
            **passive,
            "slices": [
                {**item, "heatmap": result.get(item["heatmap"], "") if item.get("heatmap") else ""}
                for item in passive["slices"]
            ],
        }
    study.passive = passive
    study.duration_seconds = result.get("duration")
    study.finished_at = timezone.now()
    study.save()
    DicomInstanceRecord.objects.bulk_create(
        DicomInstanceRecord(
            study=study,
            clinic_id=study.clinic_id,
            position=position,
            upload_index=item["upload_index"],
            sop_instance_uid=item["sop_instance_uid"][:64],
            series_instance_uid=item["series_instance_uid"][:64],
            modality=item["modality"][:16],
            transfer_syntax=item["transfer_syntax"][:64],
            frames=item["frames"],
            refused=item["refused"],
            findings=item["findings"],
            record=item["record"] or {},
        )
        for position, item in enumerate(result["instances"])
    )
    if study.purpose == DicomPurpose.INGEST:
        for item in result["instances"]:
            if item["refused"] or not item["record"]:
                continue
            record = item["record"]
            ledger_append(
                event_type="dicom.instance.signed",
                clinic_id=study.clinic_id,
                object_type="dicom_study",
                object_id=study.id,
                data={
                    "sop_instance_uid": record["sop_instance_uid"],
                    "file_sha256": record["file_sha256"],
                    "pixel_sha256": record["pixel_sha256"],
                    "attributes_sha256": record["attributes_sha256"],
                    "other_sha256": record["other_sha256"],
                    "tiles_sha256": item["tiles_sha256"],
                },
            )
        ledger_append(
            event_type="dicom.study.signed"
            if study.verdict == DicomVerdict.SIGNED
            else "dicom.study.refused",
            clinic_id=study.clinic_id,
            object_type="dicom_study",
            object_id=study.id,
            data={
                "sha256": study.sha256,
                "instances": study.instance_count,
                "refused": study.refused_count,
                "codes": sorted({f["code"] for i in result["instances"] for f in i["findings"]}),
            },
        )
    elif study.purpose == DicomPurpose.EXAMINE:
        ledger_append(
            event_type="dicom.examined",
            clinic_id=study.clinic_id,
            object_type="dicom_study",
            object_id=study.id,
            data={
                "sha256": study.sha256,
                "verdict": study.verdict,
                "suspect_slices": passive.get("suspect", []),
                "flags": sorted({m for item in passive.get("slices", []) for m in item["flagged"]}),
            },
        )
    else:
        comparison = study.comparison
        ledger_append(
            event_type="dicom.check",
            clinic_id=study.clinic_id,
            object_type="dicom_study",
            object_id=study.id,
            data={
                "sha256": study.sha256,
                "reference": str(study.reference_id),
                "verdict": study.verdict,
                "changed_instances": sorted(
                    c["sop_instance_uid"]
                    for c in comparison.get("instances", [])
                    if c["status"] != "unchanged"
                ),
                "missing": comparison.get("missing", []),
                "added": comparison.get("added", []),
            },
        )
    if study.alerting:
        transaction.on_commit(lambda: dicom_alert_send(study_id=study.id))
    return study


def dicom_job_failed(job: MediaJob, code: str) -> None:
    """The failure hook of the DICOM kinds: the study shows the job's error."""
    DicomStudy.objects.filter(job=job).update(
        status=ScanStatus.FAILED, error_code=code[:64], finished_at=timezone.now()
    )
