"""After a render: the clinician's review, publication to patients or a share link, withdrawal (also
when the likeness consent ends) and opening a share link."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from avatars import policy
from avatars.errors import AvatarErrorCode
from avatars.models import Publication, ScriptStatus, Video, VideoStatus
from avatars.services._common import get_for_update, refuse, staff_only
from avatars.services.renders import render_gate
from consent.hooks import ConsentEndEffect
from consent.ledger import ledger_append
from consent.models import Disclosure, LikenessConsent, LikenessStatus
from core.models import Role, User
from core.services import job_request_cancel
from provenance.models import ProvenanceRecord


def video_review(*, actor: User, video_id: Any, approve: bool, note: str = "") -> Video:
    """The presenting clinician (or, for the stock presenter, the script's clinician) reviews the result."""
    with transaction.atomic():
        video = get_for_update(Video, actor, video_id, "Video")
        policy.require(
            policy.can_review_video(actor, video), "Only the clinician who presents the video can review it."
        )
        if video.status != VideoStatus.IN_REVIEW:
            raise refuse(
                f"The video is {video.get_status_display().lower()}, not waiting for review.",
                AvatarErrorCode.VIDEO_INVALID_TRANSITION,
                409,
            )
        if not approve and not note.strip():
            raise refuse("Say why you reject the video.", AvatarErrorCode.VIDEO_REVIEW_REASON_REQUIRED)
        video.status = VideoStatus.APPROVED if approve else VideoStatus.REJECTED
        video.review_note, video.reviewed_at = note.strip()[:500], timezone.now()
        video.save(update_fields=["status", "review_note", "reviewed_at"])
        ledger_append(
            event_type="video.approved" if approve else "video.rejected",
            clinic_id=actor.clinic_id,
            object_type="video",
            object_id=video.id,
            actor=actor,
            subject=video.clinician_id,
            data={"sha256": video.content_sha256},
        )
    return video


def video_publish(
    *, actor: User, video_id: Any, patient_ids: list[Any], link_days: int | None = None
) -> tuple[list[Publication], str | None]:
    """Publish an approved, signed video to patients of the clinic and/or an expiring link.

    Consent is checked again here. Returns the publications and the link token (shown once).
    """
    staff_only(actor)
    with transaction.atomic():
        video = get_for_update(Video, actor, video_id, "Video")
        if video.status not in (VideoStatus.APPROVED, VideoStatus.PUBLISHED):
            raise refuse(
                "Only a video the clinician approved can be published.",
                AvatarErrorCode.VIDEO_NOT_APPROVED,
                409,
            )
        if not video.signed:
            raise refuse(
                "The video carries no signed provenance manifest; it cannot be published.",
                AvatarErrorCode.VIDEO_UNSIGNED,
                409,
            )
        if (
            video.script_sha256 != video.script.approved_sha256
            or video.script.status != ScriptStatus.APPROVED
        ):
            raise refuse(
                "The script changed after this video was made; render it again.",
                AvatarErrorCode.SCRIPT_NOT_APPROVED,
            )
        render_gate(script=video.script, stage="publish")
        patients = list(
            User.objects.filter(clinic_id=actor.member_clinic_id, role=Role.PATIENT, pk__in=patient_ids)
        )
        if len(patients) != len(set(patient_ids)):
            raise refuse("Choose patients of your clinic.", AvatarErrorCode.INVALID_INPUT, field="patients")
        if not patients and not link_days:
            raise refuse("Choose at least one patient or a share link.", AvatarErrorCode.INVALID_INPUT)
        if link_days is not None and not 1 <= link_days <= 90:
            raise refuse("A share link lasts 1 to 90 days.", AvatarErrorCode.INVALID_INPUT, field="link_days")
        publications, token = [], None
        for patient in patients:
            publication = Publication.objects.create(video=video, patient=patient, published_by=actor)
            publications.append(publication)
        if link_days:
            token = secrets.token_urlsafe(24)
            publications.append(
                Publication.objects.create(
                    video=video,
                    link_token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    expires_at=timezone.now() + timedelta(days=link_days),
                    published_by=actor,
                )
            )
        video.status = VideoStatus.PUBLISHED
        video.save(update_fields=["status"])
        for publication in publications:
            entry = ledger_append(
                event_type="video.published",
                clinic_id=actor.clinic_id,
                object_type="publication",
                object_id=publication.id,
                actor=actor,
                subject=publication.patient_id or "",
                data={
                    "video": str(video.id),
                    "sha256": video.content_sha256,
                    "via": "patient" if publication.patient_id else "link",
                },
            )
            Disclosure.objects.create(
                clinic_id=actor.member_clinic_id,
                made_by=actor,
                what="publication",
                recipient=f"{publication.patient.printed_name} (patient)"
                if publication.patient is not None
                else "holders of a share link",
                purpose="patient education",
                object_ids=[str(video.id)],
                file_sha256=video.content_sha256,
                ledger_seq=entry.seq,
            )
    return publications, token


def video_withdraw(*, video: Video, reason: str, actor: User | None) -> list[ConsentEndEffect]:
    """Withdraw a video and all its publications at once; returns what changed (for the ledger)."""
    now = timezone.now()
    effects = []
    if video.status not in (VideoStatus.WITHDRAWN, VideoStatus.FAILED, VideoStatus.REJECTED):
        Video.objects.filter(id=video.id).update(
            status=VideoStatus.WITHDRAWN, withdrawn_at=now, withdrawal_reason=reason[:100]
        )
        effects.append(ConsentEndEffect("video.withdrawn", "video", str(video.id), {"reason": reason[:64]}))
    for publication in video.publications.filter(withdrawn_at__isnull=True):
        Publication.objects.filter(id=publication.id).update(withdrawn_at=now)
        effects.append(
            ConsentEndEffect(
                "publication.withdrawn", "publication", str(publication.id), {"video": str(video.id)}
            )
        )
    return effects


def videos_withdraw_for_consent(consent: LikenessConsent, reason: str) -> list[ConsentEndEffect]:
    """Consent hook: every video made under this consent is withdrawn; running renders stop."""
    effects: list[ConsentEndEffect] = []
    for video in Video.objects.select_for_update().filter(likeness_consent=consent):
        if video.status == VideoStatus.RENDERING:
            job_request_cancel(job_ids=[video.job_id])
        effects += video_withdraw(video=video, reason=reason, actor=None)
    return effects


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def videos_consent_end_preview(consent: LikenessConsent) -> list[str]:
    """Consent hook: what ending this consent would do to the videos made under it, in sentences."""
    videos = Video.objects.filter(likeness_consent=consent)
    published = videos.filter(status=VideoStatus.PUBLISHED).count()
    pending = videos.filter(status__in=(VideoStatus.IN_REVIEW, VideoStatus.APPROVED)).count()
    rendering = videos.filter(status=VideoStatus.RENDERING).count()
    lines = [
        f"{_count(published, 'published video', 'published videos')} will be withdrawn at once: "
        "patients and share links can no longer play them."
        if published
        else "No published video is affected: none was published under this consent."
    ]
    if pending:
        lines.append(
            f"{_count(pending, 'video', 'videos')} waiting for review or publication will be withdrawn."
        )
    if rendering:
        lines.append(f"{_count(rendering, 'render', 'renders')} in progress will stop.")
    return lines


def link_publication_find(*, token: str) -> Publication:
    """The live publication a share link opens, or a refusal."""
    publication = (
        Publication.objects.select_related("video", "video__clinic")
        .filter(link_token_hash=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
    if publication is None or (publication.expires_at and publication.expires_at <= timezone.now()):
        raise refuse("This link is not valid or has expired.", AvatarErrorCode.NOT_FOUND, 404)
    return publication


def video_output_stands(record: ProvenanceRecord) -> bool | None:
    """provenance's "does this output still stand?" for avatar videos and their posters: not when the
    video was withdrawn or its likeness consent is no longer in force; None for other outputs."""
    video = record.video
    if video is None:
        return None
    if video.status == VideoStatus.WITHDRAWN or video.withdrawn_at is not None:
        return False
    consent = video.likeness_consent
    return consent is None or (
        consent.status == LikenessStatus.ACTIVE and consent.valid_until > timezone.now()
    )
