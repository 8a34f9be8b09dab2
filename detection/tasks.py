"""The scan task: a thin wrapper that claims the job, runs the engine and hands back the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task

from core.jobs import JobOutcome, job_execute, output_store, upload_fetch
from core.models import MediaJob
from core.progress import JobCancelled, JobProgress


def _engine_progress(progress: JobProgress, start: float, span: float) -> Any:
    from detection.engine import ScanCancelled

    def report(fraction: float, stage: str) -> None:
        try:
            progress(start + span * fraction, stage)
        except JobCancelled as exc:
            raise ScanCancelled("The scan was cancelled.") from exc

    return report


def _provenance_context() -> Any:
    from detection.engine import ProvenanceContext
    from provenance.index import fingerprint_index
    from provenance.keys import trust_anchors_pem
    from provenance.services import watermark_key

    return ProvenanceContext(
        trust_anchors_pem=trust_anchors_pem(),
        watermark_key=watermark_key(),
        fingerprint_lookup=fingerprint_index().match,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def scan_verdict_payload(result: Any, verdict: Any) -> dict[str, Any]:
    """The engine's result and verdict as the JSON the job result and the Scan row keep."""
    scores = {
        r.name: {
            "score": round(r.score, 4),
            "threshold": round(r.threshold, 4),
            "flagged": r.flagged,
            "skipped": r.skipped,
            "calibrated": r.calibrated,
            "accuracy": r.accuracy.summary if r.accuracy else "",
            "limits": r.accuracy.limits if r.accuracy else "",
        }
        for r in result.results
    }
    evidence = [
        {
            "analyzer": r.name,
            "note": e.note,
            "start": _round(e.time_range.start) if e.time_range else None,
            "end": _round(e.time_range.end) if e.time_range else None,
            "frame_index": e.frame_index,
            "score": _round(e.score),
            "png": e.image_png,
        }
        for r in result.results
        for e in r.evidence
    ]
    return {
        "kind": verdict.kind.value,
        "headline": verdict.headline,
        "subject_id": verdict.subject.subject_id if verdict.subject else "",
        "scores": scores,
        "timeline": {
            name: [[round(t, 3), round(s, 4)] for t, s in series] for name, series in result.timeline.items()
        },
        "explanation": list(verdict.explanation),
        "duration": result.duration,
        "evidence": evidence,
    }


def _scan_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    from detection.engine import ScanSpec, provenance_state_from, scan, verdict_from
    from detection.gallery import clinic_gallery
    from detection.services.scans import scan_verdict_record
    from provenance.services import media_verify

    assert job.input_upload is not None
    scan_id = job.params["scan"]
    media = upload_fetch(upload=job.input_upload, scratch=scratch)
    progress(0.02, "gallery")
    gallery = clinic_gallery(clinic_id=job.clinic_id, scratch=scratch)
    result = scan(
        ScanSpec(path=media, gallery=gallery, provenance=_provenance_context()),
        _engine_progress(progress, 0.05, 0.85),
    )
    # Only the database knows whether the consent behind platform content is still in force.
    consent_active = None
    provenance = result.result("provenance")
    if provenance is not None and provenance.details.get("finding") in ("signed", "watermark", "fingerprint"):
        progress(0.92, "consent")
        consent_active = media_verify(media).consent_active
    verdict = verdict_from(result.results, provenance_state_from(provenance, consent_active=consent_active))
    payload = scan_verdict_payload(result, verdict)
    for number, item in enumerate(payload["evidence"]):
        png = item.pop("png")
        item["heatmap"] = ""
        if png:
            # The kernel moves only top-level output keys to their final place: each picture is a
            # top-level entry, and the evidence names the entry.
            path = scratch / f"evidence-{number}.png"
            path.write_bytes(png)
            item["heatmap"] = f"heatmap_{number}"
            payload[item["heatmap"]] = output_store(job=job, name=f"evidence-{number}.png", path=path)

    def record(final: dict[str, Any]) -> None:
        scan_verdict_record(scan_id=scan_id, verdict=final)

    return JobOutcome(result=payload, record=record)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def scan_run(job_id: str) -> None:
    """Scan one uploaded file for the clinic's clinicians, its provenance and manipulation."""
    job_execute(job_id=job_id, work=_scan_work)
