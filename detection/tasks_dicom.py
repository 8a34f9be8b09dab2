"""The DICOM ingest, check and examination tasks: thin wrappers that read the stored study, run the
engine and hand back the instances, their integrity records (or passive evidence) and the verdict."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from celery import shared_task

from core.jobs import JobOutcome, job_execute
from core.models import MediaJob
from core.progress import JobProgress


def _passive_verdict(upload: Any, passive: Any) -> tuple[str, str]:
    from detection.engine.dicom.passive import METHODS

    if passive is None:
        return "refused", "Refused: no instance is valid DICOM."
    suspect = [s for s in passive.slices if s.flagged]
    if not suspect:
        return "unsigned_clean", (
            f"Unsigned: no evidence found in {len(passive.slices)} slice(s) "
            "(copy-move and noise inconsistency checked)."
        )
    labels = {m.name: m.label.lower() for m in METHODS}
    methods = sorted({labels[name] for s in suspect for name in s.flagged})
    numbers = ", ".join(str(s.number + 1) for s in suspect[:12]) + (" …" if len(suspect) > 12 else "")
    return "unsigned_evidence", f"Unsigned: tampering evidence on slice(s) {numbers} ({'; '.join(methods)})."[
        :255
    ]


def _verdict(purpose: str, upload: Any, comparison: Any, passive: Any = None) -> tuple[str, str]:
    accepted = upload.accepted
    if purpose == "examine":
        return _passive_verdict(upload, passive)
    if purpose == "ingest":
        if not accepted:
            return "refused", "Refused: no instance is valid DICOM."
        refused = len(upload.instances) - len(accepted)
        note = f"; {refused} instance(s) refused" if refused else ""
        return "signed", f"Signed at ingest: {len(accepted)} instance(s){note}."
    if comparison is None:
        return "refused", "Refused: no instance of the copy is valid DICOM."
    status = comparison.status
    changed = [c for c in comparison.instances if c.status == status]
    if status == "unchanged":
        return status, "Unchanged since signed."
    if status == "encoding_changed":
        return status, "Same pixels and clinical attributes as signed; only the encoding changed."
    if status == "metadata_changed":
        names = sorted({a for c in changed for a in c.changed_attributes})
        other = any(c.other_attributes_changed for c in changed)
        listed = ", ".join(names + (["other (non-clinical) attributes"] if other else []))
        return status, f"Metadata changed: {listed}."[:255]
    if status == "pixels_changed":
        regions = sum(len(c.regions) for c in changed)
        lossy = (
            " Some copies were re-encoded with lossy compression, which changes pixels throughout."
            if any(c.lossy_reencoding for c in changed)
            else ""
        )
        return status, f"Pixels changed in {len(changed)} instance(s), {regions} region(s).{lossy}"[:255]
    return status, (
        f"Instances changed: {len(comparison.missing)} signed instance(s) missing, "
        f"{len(comparison.added)} not signed."
    )


def dicom_frames(upload: Any) -> list[tuple[Any, int]]:
    """Every slice of the accepted instances in viewing order, as (instance, frame index): the
    numbering the viewer and the passive evidence share."""
    from detection.engine.dicom import slice_order

    return [
        (instance, index)
        for instance in slice_order(upload.instances)
        if not instance.refused
        for index in range(len(instance.frames))
    ]


def dicom_result(
    purpose: str, upload: Any, signed: list[dict[str, Any]] | None, started: float, passive: Any = None
) -> dict[str, Any]:
    """The engine's reading (and comparison, or passive evidence) as the JSON the job result and the
    rows keep."""
    from detection.engine.dicom import slice_order
    from detection.engine.dicom.integrity import IntegrityRecord, compare_study, integrity_record

    instances = []
    records = []
    for instance in slice_order(upload.instances):
        record = integrity_record(instance) if not instance.refused else None
        if record is not None:
            records.append(record)
        instances.append(
            {
                "upload_index": instance.index,
                "sop_instance_uid": instance.sop_instance_uid,
                "series_instance_uid": instance.series_instance_uid,
                "modality": instance.modality,
                "transfer_syntax": instance.transfer_syntax,
                "frames": len(instance.frames),
                "refused": instance.refused,
                "findings": [f.as_dict() for f in instance.findings],
                "record": record.as_dict() if record else {},
                "tiles_sha256": hashlib.sha256(
                    json.dumps([list(t) for t in record.tiles]).encode()
                ).hexdigest()
                if record
                else "",
            }
        )
    comparison = None
    if signed is not None and records:
        comparison = compare_study([IntegrityRecord.from_dict(r) for r in signed], records)
    verdict, headline = _verdict(purpose, upload, comparison, passive)
    return {
        "verdict": verdict,
        "headline": headline,
        "modalities": sorted({i["modality"] for i in instances if i["modality"]}),
        "instances": instances,
        "findings": [f.as_dict() for f in upload.findings],
        "comparison": comparison.as_dict() if comparison else {},
        "passive": passive.as_dict() if passive is not None else {},
        "duration": round(time.monotonic() - started, 4),
    }


def _dicom_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    from detection.models import DicomStudy
    from detection.services.dicom import dicom_result_record, dicom_signed_records, study_read

    started = time.monotonic()
    study = DicomStudy.objects.get(id=job.params["study"])
    progress(0.05, "reading")
    upload = study_read(study.storage_key)
    if study.purpose != "examine":
        progress(0.6, "signing" if study.reference_id is None else "comparing")
    signed = dicom_signed_records(study_id=study.reference_id) if study.reference_id else None
    passive: Any = None
    stored: dict[int, str] = {}
    if study.purpose == "examine" and upload.accepted:
        passive, stored = _examine(job, progress, scratch, dicom_frames(upload))
    result = dicom_result(study.purpose, upload, signed, started, passive)
    if passive is not None:
        # The kernel moves only top-level output keys to their final place: each suspect slice's
        # picture is a top-level entry, and the slice names the entry.
        for item in result["passive"]["slices"]:
            number = item["slice"]
            item["heatmap"] = f"heatmap_{number}" if number in stored else ""
            if item["heatmap"]:
                result[item["heatmap"]] = stored[number]

    def record(final: dict[str, Any]) -> None:
        dicom_result_record(study_id=study.id, result=final)

    return JobOutcome(result=result, record=record)


def _examine(
    job: MediaJob, progress: JobProgress, scratch: Path, frames: list[tuple[Any, int]]
) -> tuple[Any, dict[int, str]]:
    """Passive evidence of every slice, and each suspect slice's heatmap stored as a PNG of the slice
    (its own window) with the heatmap blended in red, by slice number."""
    from core.jobs import output_store
    from detection.engine.dicom.passive import examine
    from detection.engine.dicom.render import render_png

    progress(0.3, "examining")
    passive = examine(
        [instance.frames[index] for instance, index in frames],
        lambda fraction: progress(0.3 + 0.6 * fraction, "examining"),
    )
    stored: dict[int, str] = {}
    for number, heat in passive.heatmaps.items():
        instance, index = frames[number]
        path = scratch / f"evidence-{number}.png"
        path.write_bytes(render_png(instance.frames[index], instance.dataset, heat=heat))
        stored[number] = output_store(job=job, name=f"evidence-{number}.png", path=path)
    return passive, stored


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dicom_ingest_run(job_id: str) -> None:
    """Read a DICOM file or zipped study, check it, and sign every valid instance."""
    job_execute(job_id=job_id, work=_dicom_work)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dicom_check_run(job_id: str) -> None:
    """Read a later copy of a signed study and compare it against the signed records."""
    job_execute(job_id=job_id, work=_dicom_work)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def dicom_examine_run(job_id: str) -> None:
    """Read a study with no signed record and run the passive tampering detectors on every slice."""
    job_execute(job_id=job_id, work=_dicom_work)
