"""Patient anonymization: a consultation uploaded under the patient's anonymization consent, the job's
work (`anonymize_run`), review side by side, publication for teaching, withdrawal (also when the
patient withdraws a consent) and the residual-risk report.

The patient's consent is checked when the upload is accepted (with the consent row locked, so a
withdrawal cannot slip in between), when the job starts, before the output leaves scratch and at
publication; every step is a ledger event, and the record keeps the sequence numbers.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from avatars import policy
from avatars.errors import AvatarErrorCode
from avatars.models import (
    Anonymization,
    AnonymizationMode,
    AnonymizationStatus,
    AvatarJobKind,
    Enrollment,
    EnrollmentKind,
    EnrollmentStatus,
)
from avatars.services._common import get_for_update, refuse
from consent.exports.pdf import ReportSection, plain_report_pdf
from consent.hooks import ConsentEndEffect
from consent.ledger import ledger_append
from consent.models import ConsentKind, Disclosure, PatientConsent, PatientConsentStatus
from core.jobs import JobOutcome, job_checkpoint, output_store, upload_fetch
from core.media.errors import MediaError
from core.media.hashing import file_sha256
from core.models import MediaJob, Role, Upload, User
from core.progress import JobProgress
from core.services import job_create, job_request_cancel
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record
from provenance.engine.c2pa_sign import SourceType
from provenance.models import OutputKind, ProvenanceRecord
from provenance.services import OutputProvenance, output_register, output_sign, output_watermark_video

if TYPE_CHECKING:
    from avatars.engine.anonymize import AnonymizeResult

logger = logging.getLogger(__name__)

#: Burned into every output frame and named in the signed manifest.
ANONYMIZED_LABEL = "Anonymized"
#: The withdrawal reason recorded when a patient withdraws a consent.
PATIENT_WITHDREW = "patient_consent_withdrawn"
#: At most this many redaction boxes per recording.
MAX_REDACTION_BOXES = 8
#: Units a redaction box may be given in.
FRACTION, PIXELS = "fraction", "pixels"


@dataclass(frozen=True)
class RedactionRequest:
    """A box the user drew over the picture (names on screens, badges): its top-left corner, width and
    height as fractions of the picture (0-1) or in pixels of the uploaded video, and the seconds from
    `start` to `end` (None: to the end) during which it is filled."""

    x: float
    y: float
    width: float
    height: float
    start: float = 0.0
    end: float | None = None
    unit: str = FRACTION


def _box_refusal(number: int, message: str) -> Exception:
    return refuse(f"Redaction box {number}: {message}", AvatarErrorCode.INVALID_INPUT, field="redactions")


def redaction_boxes_check(
    boxes: Sequence[RedactionRequest],
    *,
    width: int | None = None,
    height: int | None = None,
    duration: float | None = None,
) -> list[dict[str, Any]]:
    """The boxes as the job's spec keeps them ({"box": [x0, y0, x1, y1] as fractions, "start",
    "end", and "pixels" when the picture's size is known}); refused, naming the box and the problem,
    when there are too many, one lies (partly) outside the picture, is empty, or ends before it starts.

    Without the picture's size (before the upload is probed) boxes in pixels are checked only for
    sign; with it, every box is checked against it, and against the recording's `duration`.
    """
    if len(boxes) > MAX_REDACTION_BOXES:
        raise refuse(
            f"At most {MAX_REDACTION_BOXES} redaction boxes per recording; {len(boxes)} were given.",
            AvatarErrorCode.INVALID_INPUT,
            field="redactions",
        )
    checked = []
    for number, box in enumerate(boxes, start=1):
        values = (box.x, box.y, box.width, box.height, box.start, box.end or 0.0)
        if not all(math.isfinite(value) for value in values):
            raise _box_refusal(number, "every value must be a number.")
        if box.unit not in (FRACTION, PIXELS):
            raise _box_refusal(number, "give it as a fraction of the picture or in pixels.")
        if box.x < 0 or box.y < 0:
            raise _box_refusal(number, "its top-left corner lies outside the picture (x and y start at 0).")
        if box.width <= 0 or box.height <= 0:
            raise _box_refusal(number, "its width and height must be more than 0.")
        if box.start < 0:
            raise _box_refusal(number, "it cannot start before 0 seconds.")
        if box.end is not None and box.end <= box.start:
            raise _box_refusal(number, f"it ends ({box.end:g} s) before it starts ({box.start:g} s).")
        if duration is not None and box.start >= duration:
            raise _box_refusal(
                number, f"it starts at {box.start:g} s, after the recording ends ({duration:.1f} s)."
            )
        if box.unit == FRACTION:
            size: tuple[float, float] = (1.0, 1.0)
            where = "the picture (fractions run from 0 to 1)"
        elif width is not None and height is not None:
            size = (float(width), float(height))
            where = f"the {width}×{height} picture"
        else:
            size = (math.inf, math.inf)
            where = ""
        if box.x + box.width > size[0] + 1e-9 or box.y + box.height > size[1] + 1e-9:
            raise _box_refusal(number, f"it reaches outside {where}; draw it inside the picture.")
        entry: dict[str, Any] = {
            "start": round(box.start, 3),
            "end": None if box.end is None else round(box.end, 3),
        }
        if width is not None and height is not None:
            scale = (1.0, 1.0) if box.unit == PIXELS else (float(width), float(height))
            left, top = box.x * scale[0], box.y * scale[1]
            entry["pixels"] = [
                round(left),
                round(top),
                round(box.width * scale[0]),
                round(box.height * scale[1]),
            ]
            fractions = (left / width, top / height, (left + box.width * scale[0]) / width)
            entry["box"] = [
                round(fractions[0], 5),
                round(fractions[1], 5),
                round(min(1.0, fractions[2]), 5),
                round(min(1.0, (top + box.height * scale[1]) / height), 5),
            ]
        checked.append(entry)
    return checked


def anonymization_redactions(anonymization: Anonymization) -> list[dict[str, Any]]:
    """The redaction boxes the user drew for this recording, as the job's spec keeps them."""
    return list(anonymization.job.params.get("redactions", []))


def _ledger(anonymization: Anonymization, event: str, *, actor: User | None, **data: Any) -> int:
    entry = ledger_append(
        event_type=f"anonymization.{event}",
        clinic_id=anonymization.clinic_id,
        object_type="anonymization",
        object_id=anonymization.id,
        actor=actor,
        subject=anonymization.patient_id,
        data=data,
    )
    return entry.seq


def _remember(anonymization: Anonymization, event: str, seq: int) -> None:
    anonymization.ledger_refs = {**anonymization.ledger_refs, event: seq}


def _granted(patient: User, kind: str) -> PatientConsent | None:
    return (
        PatientConsent.objects.filter(patient=patient, kind=kind, status=PatientConsentStatus.GRANTED)
        .order_by("-granted_at")
        .first()
    )


def _consent_required() -> Exception:
    return refuse(
        "The patient has not consented to the anonymization of this recording (or has withdrawn "
        "the consent); nothing was uploaded.",
        AvatarErrorCode.ANONYMIZATION_CONSENT_REQUIRED,
        409,
    )


def anonymization_consent_gate(*, anonymization: Anonymization, stage: str) -> PatientConsent:
    """The patient's anonymization consent the record was made under, if it is still granted."""
    consent = PatientConsent.objects.get(id=anonymization.consent_id)
    if consent.status != PatientConsentStatus.GRANTED:
        raise refuse(
            "The patient withdrew the consent to anonymize this recording.",
            AvatarErrorCode.ANONYMIZATION_CONSENT_REQUIRED,
            409,
            stage=stage,
        )
    return consent


def _clinician_enrollment(clinician: User) -> Enrollment | None:
    return (
        Enrollment.objects.filter(
            clinician=clinician,
            kind=EnrollmentKind.FOOTAGE,
            status=EnrollmentStatus.READY,
            signed_off_at__isnull=False,
        )
        .select_related("footage", "voice")
        .order_by("-created_at")
        .first()
    )


def anonymization_request(
    *,
    actor: User,
    patient_id: Any,
    file: UploadedFile,
    mode: str,
    keep_clinician_id: Any = None,
    redactions: Sequence[RedactionRequest] = (),
) -> Anonymization:
    """Accept a consultation recording for anonymization and queue the job.

    Refused, with nothing stored, unless the patient (of the actor's clinic) currently grants the
    anonymization consent. `keep_clinician_id` names a clinician of the clinic whose enrolled face
    and voice stay unaltered (they need a ready footage enrollment); None replaces every face.
    `redactions` are boxes filled solid during their time ranges (checked against the recording's
    picture and length; they reach the job's spec, the ledger and the report).
    """
    policy.require(policy.can_anonymize(actor), policy.STUDIO_REFUSAL)
    redaction_boxes_check(redactions)
    if mode not in AnonymizationMode.values:
        raise refuse("Choose how faces are replaced.", AvatarErrorCode.INVALID_INPUT, field="mode")
    patient = User.objects.filter(clinic_id=actor.member_clinic_id, role=Role.PATIENT, pk=patient_id).first()
    if patient is None:
        raise refuse("Choose a patient of your clinic.", AvatarErrorCode.INVALID_INPUT, field="patient")
    clinician = None
    if keep_clinician_id not in (None, ""):
        clinician = User.objects.filter(
            clinic_id=actor.member_clinic_id, role=Role.CLINICIAN, pk=keep_clinician_id
        ).first()
        if clinician is None:
            raise refuse(
                "Choose a clinician of your clinic to keep.", AvatarErrorCode.INVALID_INPUT, field="keep"
            )
        if _clinician_enrollment(clinician) is None:
            raise refuse(
                f"{clinician.printed_name} has no signed-off footage enrollment, so their face and voice "
                "cannot be recognized and kept; enroll first or replace every face.",
                AvatarErrorCode.ANONYMIZATION_NO_ENROLLMENT,
                field="keep",
            )
    upload_rate_limit(actor=actor)
    if _granted(patient, ConsentKind.PATIENT_ANONYMIZATION) is None:
        raise _consent_required()

    boxes: list[dict[str, Any]] = []

    def create(upload: Upload) -> Anonymization:
        # Locked, and read again, so a withdrawal that commits meanwhile either comes first (and
        # refuses this upload) or finds this record and stops it.
        consent = (
            PatientConsent.objects.select_for_update()
            .filter(
                patient=patient, kind=ConsentKind.PATIENT_ANONYMIZATION, status=PatientConsentStatus.GRANTED
            )
            .order_by("-granted_at")
            .first()
        )
        if consent is None:
            raise _consent_required()
        anonymization_id = uuid.uuid4()
        job = job_create(
            actor=actor,
            kind=AvatarJobKind.ANONYMIZE,
            input_upload=upload,
            params={
                "anonymization": str(anonymization_id),
                "patient_consent": str(consent.id),
                "redactions": boxes,
            },
        )
        anonymization = Anonymization.objects.create(
            id=anonymization_id,
            clinic_id=actor.member_clinic_id,
            patient=patient,
            consent=consent,
            kept_clinician=clinician,
            mode=mode,
            input_upload=upload,
            input_key=upload.storage_key,
            label_text=ANONYMIZED_LABEL,
            job=job,
            created_by=actor,
        )
        seq = _ledger(
            anonymization,
            "requested",
            actor=actor,
            consent=str(consent.id),
            job=str(job.id),
            mode=mode,
            input_sha256=upload.sha256,
            kept_clinician=str(clinician.pk) if clinician else "",
            # The ledger takes no floats: pixels and milliseconds.
            redactions=[
                {
                    "pixels": entry["pixels"],
                    "start_ms": round(entry["start"] * 1000),
                    "end_ms": None if entry["end"] is None else round(entry["end"] * 1000),
                }
                for entry in boxes
            ],
        )
        _remember(anonymization, "requested", seq)
        anonymization.save(update_fields=["ledger_refs"])
        return anonymization

    with Scratch() as scratch:
        checked = upload_check(file=file, kinds={"video"}, scratch=scratch)
        if redactions and not (checked.probe.width and checked.probe.height):
            raise refuse(
                "The recording's picture size could not be read, so the redaction boxes cannot be placed.",
                AvatarErrorCode.INVALID_INPUT,
                field="redactions",
            )
        boxes = redaction_boxes_check(
            redactions,
            width=checked.probe.width,
            height=checked.probe.height,
            duration=checked.probe.duration_seconds,
        )
        return upload_record(actor=actor, checked=checked, purpose="anonymization", then=create)


# --- the job ---------------------------------------------------------------------------------------


def _clinician_templates(anonymization: Anonymization, scratch: Path) -> tuple[tuple[Any, ...], Any]:
    """The kept clinician's enrolled face (mean dlib embedding) and voice (resemblyzer), if any."""
    from avatars.engine.errors import EngineError
    from avatars.engine.statement import enrolled_face_embeddings, speaker_embedding

    if anonymization.kept_clinician is None:
        return (), None
    enrollment = _clinician_enrollment(anonymization.kept_clinician)
    if enrollment is None or enrollment.footage is None:
        raise refuse(
            "The kept clinician's enrollment is no longer usable; start again without keeping them.",
            AvatarErrorCode.ANONYMIZATION_NO_ENROLLMENT,
        )
    folder = scratch / "enrollment"
    folder.mkdir()
    footage = upload_fetch(upload=enrollment.footage, scratch=folder)
    face = enrolled_face_embeddings(footage).mean(axis=0)
    voice_source = footage
    if enrollment.voice is not None:
        (scratch / "voice").mkdir()
        voice_source = upload_fetch(upload=enrollment.voice, scratch=scratch / "voice")
    try:
        voice = speaker_embedding(voice_source)
    except (EngineError, MediaError):
        voice = None  # no speech enrolled: every voice is changed, which errs on the safe side
    return (face,), voice


def anonymization_report_data(result: AnonymizeResult) -> dict[str, Any]:
    """The engine's measurements as the JSON the record keeps (numbers, frame indices and words only)."""
    voice = asdict(result.voice)
    return {
        "mode": result.mode,
        "width": result.width,
        "height": result.height,
        "fps": round(result.fps, 3),
        "frames": result.frames,
        "duration_seconds": round(result.duration, 3),
        "processing_seconds": round(result.seconds, 1),
        "checked_frames": result.checked_frames,
        "redacted_frames": result.redacted_frames,
        "leaks": len(result.leaks),
        "residual_faces": [
            {
                "frame": face.frame,
                "time": round(face.time, 2),
                "kind": face.kind,
                "distance": None if face.distance is None else round(face.distance, 3),
            }
            for face in result.residual_faces
        ],
        "tracks": [
            {
                "track": track.track_id,
                "first_frame": track.first_frame,
                "last_frame": track.last_frame,
                "kept_frames": track.kept_frames,
                "replaced_frames": track.replaced_frames,
                "filled_frames": track.filled_frames,
                "keep_distances": None
                if track.keep_distances is None
                else [round(value, 3) for value in track.keep_distances],
                "output_distance": None if track.output_distance is None else round(track.output_distance, 3),
            }
            for track in result.tracks
        ],
        "voice": {
            key: round(value, 3) if isinstance(value, float) else value for key, value in voice.items()
        },
        "not_handled": list(result.not_handled),
    }


def _original_preview_key(anonymization: Anonymization) -> str:
    return f"anonymizations/{anonymization.clinic_id}/{anonymization.id}/original-preview.mp4"


def anonymize_run(
    *, job: MediaJob, progress: JobProgress, scratch: Path, report: Callable[[float, str], None]
) -> JobOutcome:
    """The anonymize job's work: consent gate, engine (clinician kept), original preview, watermark,
    consent gate again, C2PA signature (composite with trained algorithmic media) and storage; the
    outcome registers the signed output and sends the record to review.

    `report` is the engine's progress callback (the task maps it onto the job's first 75%).
    """
    from avatars.engine.anonymize import AnonymizeSpec, RedactionBox, anonymize
    from core.media.proxy import ProxySpec, make_proxy

    anonymization = Anonymization.objects.select_related(
        "input_upload", "kept_clinician", "clinic", "consent__signature"
    ).get(id=job.params["anonymization"])
    anonymization_consent_gate(anonymization=anonymization, stage="start")
    source = upload_fetch(upload=anonymization.input_upload, scratch=scratch)
    progress(0.0, "enrolled clinician")
    keep_faces, keep_voice = _clinician_templates(anonymization, scratch)
    result = anonymize(
        AnonymizeSpec(
            input=source,
            output=scratch / "anonymized.mp4",
            mode=anonymization.mode,  # type: ignore[arg-type]  # one of AnonymizationMode
            keep_faces=keep_faces,
            keep_voice=keep_voice,
            label=anonymization.label_text,
            redactions=tuple(
                RedactionBox(box=tuple(entry["box"]), start=entry["start"], end=entry["end"])
                for entry in anonymization_redactions(anonymization)
            ),
        ),
        report,
    )
    progress(0.76, "original preview")
    preview = make_proxy(
        ProxySpec(source=source, video_out=scratch / "original.mp4", poster_out=scratch / "original.jpg")
    )
    progress(0.82, "watermarking")
    marked = output_watermark_video(source=result.output, dest=scratch / "marked.mp4")
    # The last consent check before the output can exist anywhere but scratch.
    consent = anonymization_consent_gate(anonymization=anonymization, stage="finish")
    progress(0.9, "signing")
    signing_seq = job_checkpoint(
        job,
        "anonymization.signing",
        lambda: _ledger(anonymization, "signing", actor=None, content_id=marked.content_id),
    )
    facts = OutputProvenance(
        clinic_id=str(anonymization.clinic_id),
        clinic_name=anonymization.clinic.name,
        ledger_entry_id=str(signing_seq),
        consent_ids=(str(consent.id),),
        consent_hashes=(consent.signature.binding_sha256,),
        disclosure_text=anonymization.label_text,
        output_kind=OutputKind.ANONYMIZED_VIDEO,
        source_type=SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
        content_id=marked.content_id,
    )
    signed = output_sign(
        source=marked.path, dest=scratch / "signed.mp4", provenance=facts, title="Anonymized consultation"
    )
    progress(0.95, "storing")
    # The original's preview stays out of the job's outputs: whoever sees a job (compliance officers
    # see every job of the clinic) can fetch its outputs, and only the reviewers may see the original.
    # A fixed key, so a second attempt replaces the first one's copy.
    preview_key = _original_preview_key(anonymization)
    if default_storage.exists(preview_key):
        default_storage.delete(preview_key)
    with preview.video_path.open("rb") as handle:
        default_storage.save(preview_key, handle)
    outputs = {
        "output": output_store(job=job, name="anonymized.mp4", path=signed),
        "sha256": file_sha256(signed),
        "content_id": marked.content_id,
        "duration_seconds": round(result.duration, 3),
        "leaks": len(result.leaks),
    }
    report_data = {
        **anonymization_report_data(result),
        "redaction_boxes": len(anonymization_redactions(anonymization)),
    }

    def record(final: dict[str, Any]) -> None:
        # Registered as soon as the signed file is stored: every signed output must be recognizable.
        output_register(
            clinic_id=anonymization.clinic_id,
            content_id=marked.content_id,
            output_kind=OutputKind.ANONYMIZED_VIDEO,
            path=signed,
            file_key=final["output"],
        )
        anonymization_finish(
            anonymization_id=anonymization.id,
            output_key=final["output"],
            sha256=final["sha256"],
            content_id=marked.content_id,
            preview_key=preview_key,
            report=report_data,
            signing_seq=signing_seq,
        )

    return JobOutcome(result=outputs, record=record)


def anonymization_finish(
    *,
    anonymization_id: Any,
    output_key: str,
    sha256: str,
    content_id: str,
    preview_key: str,
    report: dict[str, Any],
    signing_seq: int,
) -> Anonymization:
    """Store a finished, signed anonymization for review (called in the job's finishing transaction)."""
    anonymization = Anonymization.objects.select_for_update().get(id=anonymization_id)
    if anonymization.status != AnonymizationStatus.PROCESSING:
        return anonymization
    anonymization.output_key, anonymization.output_sha256 = output_key, sha256
    anonymization.content_id, anonymization.original_proxy_key = content_id, preview_key
    anonymization.report, anonymization.signed = report, True
    anonymization.status = AnonymizationStatus.IN_REVIEW
    _remember(anonymization, "signing", signing_seq)
    seq = _ledger(
        anonymization,
        "finished",
        actor=None,
        sha256=sha256,
        signed=True,
        leaks=int(report["leaks"]),
        checked_frames=int(report["checked_frames"]),
    )
    _remember(anonymization, "finished", seq)
    anonymization.save()
    return anonymization


def anonymization_job_failed(*, anonymization_id: Any, code: str, cancelled: bool) -> None:
    """The anonymize kind's failure hook: a failed or cancelled job fails (or cancels) its record."""
    anonymization = Anonymization.objects.select_for_update().filter(id=anonymization_id).first()
    if anonymization is None:
        return
    # The work stores the original's preview just before it finishes: a withdrawal that lands in
    # between cancels the finish and leaves the preview for this hook to remove.
    _delete_after_commit(_original_preview_key(anonymization))
    if anonymization.status != AnonymizationStatus.PROCESSING:
        return  # e.g. already withdrawn by the patient, which is what cancelled the job
    anonymization.status = AnonymizationStatus.CANCELLED if cancelled else AnonymizationStatus.FAILED
    seq = _ledger(anonymization, "cancelled" if cancelled else "failed", actor=None, code=code[:64])
    _remember(anonymization, anonymization.status, seq)
    anonymization.save(update_fields=["status", "ledger_refs"])


# --- review, publication, withdrawal --------------------------------------------------------------


def anonymization_review(
    *, actor: User, anonymization_id: Any, approve: bool, note: str = ""
) -> Anonymization:
    """The uploader or a clinic admin approves (or rejects, with a reason) the anonymized output."""
    with transaction.atomic():
        anonymization = get_for_update(Anonymization, actor, anonymization_id, "Anonymization")
        policy.require(
            policy.can_review_anonymization(actor, anonymization),
            "Only the clinician who uploaded the recording or a clinic admin reviews it.",
        )
        if anonymization.status != AnonymizationStatus.IN_REVIEW:
            raise refuse(
                f"The anonymization is {anonymization.get_status_display().lower()}, not waiting for review.",
                AvatarErrorCode.ANONYMIZATION_INVALID_TRANSITION,
                409,
            )
        if not approve and not note.strip():
            raise refuse("Say why you reject it.", AvatarErrorCode.VIDEO_REVIEW_REASON_REQUIRED)
        anonymization.status = AnonymizationStatus.APPROVED if approve else AnonymizationStatus.REJECTED
        anonymization.review_note = note.strip()[:500]
        anonymization.reviewed_by, anonymization.reviewed_at = actor, timezone.now()
        event = "approved" if approve else "rejected"
        _remember(
            anonymization,
            event,
            _ledger(anonymization, event, actor=actor, sha256=anonymization.output_sha256),
        )
        anonymization.save()
    return anonymization


def anonymization_publish(*, actor: User, anonymization_id: Any) -> Anonymization:
    """Publish an approved, signed anonymization for teaching in the clinic.

    Needs both of the patient's consents: to the anonymization and to the use of the anonymized video.
    """
    with transaction.atomic():
        anonymization = get_for_update(Anonymization, actor, anonymization_id, "Anonymization")
        policy.require(
            policy.can_review_anonymization(actor, anonymization),
            "Only the clinician who uploaded the recording or a clinic admin publishes it.",
        )
        if anonymization.status != AnonymizationStatus.APPROVED or not anonymization.signed:
            raise refuse(
                "Only an approved, signed anonymization can be published.",
                AvatarErrorCode.ANONYMIZATION_INVALID_TRANSITION,
                409,
            )
        anonymization_consent_gate(anonymization=anonymization, stage="publish")
        use = (
            PatientConsent.objects.select_for_update()
            .filter(
                patient_id=anonymization.patient_id,
                kind=ConsentKind.PATIENT_USE,
                status=PatientConsentStatus.GRANTED,
            )
            .order_by("-granted_at")
            .first()
        )
        if use is None:
            raise refuse(
                "The patient has not consented to the use of the anonymized video; it cannot be published.",
                AvatarErrorCode.ANONYMIZATION_USE_CONSENT_REQUIRED,
                409,
            )
        anonymization.status, anonymization.published_at = AnonymizationStatus.PUBLISHED, timezone.now()
        anonymization.use_consent = use
        seq = _ledger(
            anonymization,
            "published",
            actor=actor,
            use_consent=str(use.id),
            sha256=anonymization.output_sha256,
        )
        _remember(anonymization, "published", seq)
        anonymization.save()
        Disclosure.objects.create(
            clinic_id=actor.member_clinic_id,
            made_by=actor,
            what="anonymization.publication",
            recipient="the clinic's teaching library",
            purpose="teaching",
            object_ids=[str(anonymization.id)],
            file_sha256=anonymization.output_sha256,
            ledger_seq=seq,
        )
    return anonymization


def _delete_after_commit(key: str) -> None:
    def delete() -> None:
        try:
            default_storage.delete(key)
        except OSError:  # the record says withdrawn either way; a leftover file is found by its key
            logger.warning("anonymization file cleanup failed", extra={"key": key}, exc_info=True)

    transaction.on_commit(delete)


def _withdraw(anonymization: Anonymization, *, reason: str) -> list[ConsentEndEffect]:
    """Stop a running job, withdraw the record and remove its files (the output and the original's
    preview); the signed output stays registered with provenance, so a copy is still recognized."""
    effects = []
    if anonymization.status == AnonymizationStatus.PROCESSING:
        job_request_cancel(job_ids=[anonymization.job_id])
        effects.append(
            ConsentEndEffect("job.cancelled", "media_job", str(anonymization.job_id), {"cause": reason})
        )
    anonymization.status, anonymization.withdrawn_at = AnonymizationStatus.WITHDRAWN, timezone.now()
    anonymization.withdrawal_reason = reason[:100]
    anonymization.save(update_fields=["status", "withdrawn_at", "withdrawal_reason"])
    effects.append(
        ConsentEndEffect(
            "anonymization.withdrawn", "anonymization", str(anonymization.id), {"reason": reason[:64]}
        )
    )
    # The kernel serves a job's outputs to whoever sees the job: the withdrawn output is taken out of
    # the job's result, so it is refused as missing there too.
    job = MediaJob.objects.select_for_update().get(id=anonymization.job_id)
    if "output" in job.result:
        MediaJob.objects.filter(id=job.id).update(
            result={key: value for key, value in job.result.items() if key != "output"}
        )
    for key in (anonymization.output_key, _original_preview_key(anonymization)):
        if key:
            _delete_after_commit(key)
    return effects


def anonymizations_withdraw_for_patient_consent(consent: PatientConsent) -> list[ConsentEndEffect]:
    """Consent hook: a withdrawn anonymization consent stops and withdraws everything made under it;
    a withdrawn use consent withdraws what was published under it."""
    if consent.kind == ConsentKind.PATIENT_ANONYMIZATION:
        records = Anonymization.objects.select_for_update().filter(consent=consent)
    elif consent.kind == ConsentKind.PATIENT_USE:
        records = Anonymization.objects.select_for_update().filter(use_consent=consent)
    else:
        return []
    effects: list[ConsentEndEffect] = []
    for anonymization in records.exclude(status=AnonymizationStatus.WITHDRAWN):
        effects += _withdraw(anonymization, reason=PATIENT_WITHDREW)
    return effects


# --- the residual-risk report ----------------------------------------------------------------------

NOT_DEIDENTIFIED = (
    "This is not de-identification in the HIPAA sense. Faces and voices are two of the 18 Safe "
    "Harbor identifiers; other identifiers (names or dates said aloud, text in the picture outside "
    "the redaction boxes, clothing, the room) may remain. Treat the anonymized video as "
    "protected health information unless an expert determination says otherwise."
)


def _number(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def anonymization_report_sections(anonymization: Anonymization) -> list[ReportSection]:
    """The residual-risk report in plain words and tables, from the engine's measurements: the same
    sections for the HTML page and the PDF."""
    data = anonymization.report
    voice = data.get("voice", {})
    leaks = [face for face in data.get("residual_faces", []) if face["kind"] != "synthetic"]
    faces = ReportSection(
        "Faces left in the output",
        (
            f"An independent face detector (dlib HOG, a different model from the one that found the "
            f"faces to replace) looked at {data.get('checked_frames', 0)} of {data.get('frames', 0)} "
            f"output frames. It found {len(leaks)} face(s) that were neither kept nor the drawn "
            "replacement face.",
        ),
        [["Frame", "Time (s)", "Kind", "Distance to the original person"]]
        + [
            [str(face["frame"]), _number(face["time"]), face["kind"], _number(face["distance"])]
            for face in data.get("residual_faces", [])
        ]
        if data.get("residual_faces")
        else (),
    )
    tracks = ReportSection(
        "Faces followed through the video",
        (
            "Identity distance is dlib's 128-d face-embedding distance: above 0.6 dlib sees a different "
            "person. 'Output distance' compares the original face with the output at the same place; "
            "'distance to kept face' compares the track with the enrolled clinician.",
            f"Faces followed: {len(data.get('tracks', []))}.",
        ),
        [["Track", "Frames", "Kept", "Replaced", "Output distance", "Distance to kept face"]]
        + [
            [
                str(track["track"]),
                f"{track['first_frame']}–{track['last_frame']}",
                str(track["kept_frames"]),
                str(track["replaced_frames"]),
                _number(track["output_distance"]),
                "—"
                if track["keep_distances"] is None
                else f"{track['keep_distances'][0]:.2f}–{track['keep_distances'][1]:.2f}",
            ]
            for track in data.get("tracks", [])
        ]
        if data.get("tracks")
        else (),
    )
    if voice.get("has_audio"):
        voice_lines: tuple[str, ...] = (
            f"Speech heard: {_number(voice.get('speech_seconds'), 1)} s; kept as the clinician: "
            f"{_number(voice.get('kept_seconds'), 1)} s; changed: {_number(voice.get('anonymized_seconds'), 1)} s.",
            "Speaker similarity of the changed speech to the original (resemblyzer cosine; 1 = same "
            f"voice, different people score about 0.45–0.75): {_number(voice.get('anonymized_similarity'))}.",
        )
    else:
        voice_lines = ("The recording has no sound.",)
    return [
        faces,
        tracks,
        ReportSection("Voice", voice_lines),
        _redaction_section(anonymization),
        ReportSection("What was not handled", tuple(data.get("not_handled", ()))),
        ReportSection("Not HIPAA de-identification", (NOT_DEIDENTIFIED,)),
    ]


def redaction_box_label(entry: dict[str, Any]) -> str:
    """A box in words: where in the picture (pixels and per cent) and when."""
    x0, y0, x1, y1 = entry["box"]
    left, top, width, height = entry.get("pixels") or (None, None, None, None)
    where = (
        f"{width}×{height} px at ({left}, {top})"
        if width is not None
        else f"{(x1 - x0) * 100:.0f}%×{(y1 - y0) * 100:.0f}% of the picture"
    )
    share = f"x {x0 * 100:.0f}–{x1 * 100:.0f}%, y {y0 * 100:.0f}–{y1 * 100:.0f}%"
    end = "the end" if entry["end"] is None else f"{entry['end']:g} s"
    return f"{where} ({share}), from {entry['start']:g} s to {end}"


def _redaction_section(anonymization: Anonymization) -> ReportSection:
    boxes = anonymization_redactions(anonymization)
    frames = anonymization.report.get("redacted_frames", 0)
    if not boxes:
        return ReportSection(
            "Redaction boxes",
            (
                "No redaction boxes were drawn by the user: text in the picture (names on screens, "
                "badges) was left as recorded.",
            ),
        )
    return ReportSection(
        "Redaction boxes",
        (
            f"{len(boxes)} redaction box{'es' if len(boxes) != 1 else ''} drawn by the user, filled solid "
            f"on {frames} output frame(s). Text outside them was left as recorded.",
        ),
        [["Box", "Where and when"]]
        + [[str(number), redaction_box_label(entry)] for number, entry in enumerate(boxes, start=1)],
    )


def anonymization_report_facts(anonymization: Anonymization) -> list[tuple[str, str]]:
    data = anonymization.report
    return [
        ("Anonymization", str(anonymization.id)),
        ("Mode", anonymization.get_mode_display()),
        ("Status", anonymization.get_status_display()),
        ("Output SHA-256", anonymization.output_sha256 or "—"),
        ("Signed", "yes (C2PA, composite with trained algorithmic media)" if anonymization.signed else "no"),
        (
            "Picture",
            f"{data.get('width', '—')}×{data.get('height', '—')}, {data.get('duration_seconds', '—')} s",
        ),
        (
            "Clinician kept",
            anonymization.kept_clinician.printed_name if anonymization.kept_clinician else "none",
        ),
        ("Redaction boxes", f"{len(anonymization_redactions(anonymization))} drawn by the user"),
    ]


def anonymization_report_pdf(anonymization: Anonymization) -> bytes:
    """The residual-risk report as PDF (the consent evidence report's layout)."""
    return plain_report_pdf(
        title="Anonymization residual-risk report",
        subtitle=anonymization.clinic.name,
        generated_at=anonymization.reviewed_at or anonymization.created_at,
        author="Candor",
        facts=anonymization_report_facts(anonymization),
        sections=anonymization_report_sections(anonymization),
        footer="Candor anonymization report — not HIPAA de-identification",
    )


def anonymization_output_stands(record: ProvenanceRecord) -> bool | None:
    """provenance's "does this output still stand?" for anonymized consultations (they have no video
    row): not once withdrawn (the patient withdrawing a consent withdraws it); None for other outputs."""
    if record.output_kind != OutputKind.ANONYMIZED_VIDEO:
        return None
    anonymization = Anonymization.objects.filter(
        clinic_id=record.clinic_id, content_id=record.content_id
    ).first()
    return anonymization is not None and anonymization.status != AnonymizationStatus.WITHDRAWN
