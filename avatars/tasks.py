"""Avatar studio tasks: thin wrappers that claim a job and call the engine through the services."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings

from avatars.models import EnrollmentKind, NarrationSource, Video
from avatars.services import (
    enrollment_analysis_finish,
    render_failed,
    render_finish,
    render_gate,
    video_disclosure,
)
from core.jobs import JobOutcome, job_checkpoint, job_execute, output_store, upload_fetch
from core.models import MediaJob
from core.progress import JobCancelled, JobProgress


def _engine_progress(progress: JobProgress, start: float, span: float) -> Any:
    from avatars.engine import RenderCancelled

    def report(fraction: float, stage: str) -> None:
        try:
            progress(start + span * fraction, stage)
        except JobCancelled as exc:
            # The engine turns unexpected exceptions into failures; its own cancel type stops it cleanly.
            raise RenderCancelled("The render was cancelled.") from exc

    return report


def _enrollment_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    from avatars.engine.enrollment import analyze_enrollment
    from avatars.engine.errors import EnrollmentError

    assert job.input_upload is not None
    enrollment_id = job.params["enrollment"]
    footage = upload_fetch(upload=job.input_upload, scratch=scratch)
    try:
        analysis = analyze_enrollment(footage, progress=_engine_progress(progress, 0.0, 0.95))
    except EnrollmentError as exc:
        advice = exc.message
        return JobOutcome(
            result={"accepted": False, "advice": advice},
            record=lambda _: enrollment_analysis_finish(
                enrollment_id=enrollment_id, analysis_key=None, advice=advice
            ),
        )
    path = scratch / "analysis.npz"
    analysis.save(path)
    return JobOutcome(
        result={"accepted": True, "analysis": output_store(job=job, name="analysis.npz", path=path)},
        record=lambda final: enrollment_analysis_finish(
            enrollment_id=enrollment_id, analysis_key=final["analysis"], advice=""
        ),
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def enrollment_analyze(job_id: str) -> None:
    """Analyse a clinician's enrollment footage (quality checks, mouth shapes, idle loop)."""
    job_execute(job_id=job_id, work=_enrollment_work)


def _statement_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    from avatars.engine.statement import StatementCheckSpec, check_consent_statement
    from avatars.models import Enrollment
    from consent.services import likeness_consent_verify_automated

    assert job.input_upload is not None
    statement = upload_fetch(upload=job.input_upload, scratch=scratch)
    enrollment = Enrollment.objects.select_related("footage", "voice").get(id=job.params["enrollment"])
    footage_dir = scratch / "enrollment"
    footage_dir.mkdir()
    footage = upload_fetch(upload=enrollment.footage, scratch=footage_dir)
    voice = None
    if enrollment.voice_id:
        voice_dir = scratch / "voice"
        voice_dir.mkdir()
        voice = upload_fetch(upload=enrollment.voice, scratch=voice_dir)
    result = check_consent_statement(
        StatementCheckSpec(statement=statement, enrollment=footage, voice_sample=voice),
        _engine_progress(progress, 0.0, 0.95),
    )
    scores = result.ledger_scores()
    return JobOutcome(
        result={"passed": result.passed, "reasons": list(result.reasons), "scores": scores},
        record=lambda _: likeness_consent_verify_automated(
            consent_id=job.params["consent"], passed=result.passed, scores=scores
        ),
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def statement_check(job_id: str) -> None:
    """Check a consent statement's face, voice and liveness against the enrolled likeness."""
    job_execute(job_id=job_id, work=_statement_work)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _render_work(job: MediaJob, progress: JobProgress, scratch: Path) -> JobOutcome:
    from avatars import engine
    from consent.ledger import ledger_append
    from provenance.engine.c2pa_sign import SourceType
    from provenance.services import (
        OutputProvenance,
        output_register,
        output_sign,
        output_watermark_image,
        output_watermark_video,
    )

    video = Video.objects.select_related(
        "script__enrollment", "script__clinic", "label", "likeness_consent"
    ).get(id=job.params["video"])
    script = video.script
    consent = render_gate(script=script, stage="start")
    enrollment = script.enrollment
    if enrollment.kind == EnrollmentKind.STOCK:
        avatar: Any = engine.StockAvatar()
    elif enrollment.kind == EnrollmentKind.FOOTAGE:
        from django.core.files.storage import default_storage

        footage = upload_fetch(upload=enrollment.footage, scratch=scratch)
        analysis = None
        if enrollment.analysis_key:
            analysis = scratch / "analysis.npz"
            with default_storage.open(enrollment.analysis_key, "rb") as src:
                analysis.write_bytes(src.read())
        avatar = engine.FootageAvatar(enrollment=footage, analysis=analysis)
    else:
        avatar = engine.PortraitAvatar(photo=upload_fetch(upload=enrollment.photo, scratch=scratch))
    if script.narration_source == NarrationSource.RECORDING:
        narration: Any = engine.RecordedNarration(
            audio=upload_fetch(upload=script.narration, scratch=scratch), language=script.language
        )
    else:
        narration = engine.ScriptNarration(text=script.text, language=script.language)
    disclosure = video_disclosure(script=script, consent=consent, label=video.label)
    result = engine.render(
        engine.RenderSpec(
            avatar=avatar,
            narration=narration,
            disclosure=engine.Disclosure(
                label=video.label_text, intro=disclosure.spoken_start, outro=disclosure.spoken_end
            ),
            output_dir=scratch / "out",
            basename="video",
            burn_captions=False,
            width=settings.AVATAR_RENDER_WIDTH,
            height=settings.AVATAR_RENDER_HEIGHT,
        ),
        _engine_progress(progress, 0.0, 0.85),
    )
    # Every output carries its own content id in its pixels, so it is still recognized
    # once the manifest is stripped; the manifest names the same id.
    progress(0.86, "watermarking")
    marked_video = output_watermark_video(source=result.video, dest=scratch / "marked.mp4")
    marked_poster = output_watermark_image(source=result.poster, dest=scratch / "marked.jpg")
    # The last consent check before the result can exist anywhere but scratch.
    consent = render_gate(script=script, stage="finish")
    progress(0.9, "signing")
    # Once per job, not per attempt: a re-run after a lost worker signs under the same entry.
    signing_seq = job_checkpoint(
        job,
        "render.signing",
        lambda: (
            ledger_append(
                event_type="render.signing",
                clinic_id=video.clinic_id,
                object_type="video",
                object_id=video.id,
                subject=video.clinician_id,
            ).seq
        ),
    )
    facts = OutputProvenance(
        clinic_id=str(video.clinic_id),
        clinic_name=script.clinic.name,
        ledger_entry_id=str(signing_seq),
        consent_ids=(str(consent.id),) if consent else (),
        consent_hashes=(consent.signature.binding_sha256,) if consent and consent.signature else (),
        disclosure_text=video.label_text,
        output_kind="avatar_video",
        source_type=SourceType.TRAINED_ALGORITHMIC_MEDIA,
        content_id=marked_video.content_id,
    )
    signed_video = output_sign(
        source=marked_video.path, dest=scratch / "signed.mp4", provenance=facts, title=script.title
    )
    signed_poster = output_sign(
        source=marked_poster.path,
        dest=scratch / "signed.jpg",
        provenance=replace(facts, output_kind="poster", content_id=marked_poster.content_id),
        title=f"{script.title} (poster)",
    )
    progress(0.95, "storing")
    outputs = {
        "video": output_store(job=job, name="video.mp4", path=signed_video),
        "poster": output_store(job=job, name="poster.jpg", path=signed_poster),
        "captions": output_store(job=job, name="captions.vtt", path=result.captions),
        "sha256": _sha256(signed_video),
        "duration_seconds": round(result.duration, 3),
        "signed": True,
    }

    def record(final: dict[str, Any]) -> None:
        # Registered with the stored outputs, before review: a signed file that exists must be
        # recognizable. Only the attempt that finishes the job gets here, so each is registered once.
        for marked, signed, kind in (
            (marked_video, signed_video, "avatar_video"),
            (marked_poster, signed_poster, "poster"),
        ):
            output_register(
                clinic_id=video.clinic_id,
                content_id=marked.content_id,
                output_kind=kind,
                path=signed,
                video_id=video.id,
            )
        render_finish(video_id=video.id, outputs=final)

    return JobOutcome(
        result={**outputs, "mode": result.mode, "width": result.width, "height": result.height}, record=record
    )


def render_job_failed(job: MediaJob, code: str) -> None:
    """A failed, cancelled or abandoned render job fails its video (the render kind's failure hook)."""
    render_failed(video_id=job.params["video"], code=code)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def video_render(job_id: str) -> None:
    """Render, disclose, sign and store one avatar video."""
    job_execute(job_id=job_id, work=_render_work)
