"""The patient's side: the first view of a synthetic video, with its disclosure, is acknowledged."""

from __future__ import annotations

from django.db import transaction

from avatars.models import Video, ViewAcknowledgment
from consent.ledger import ledger_append
from core.models import User


def video_acknowledge_view(*, patient: User, video: Video) -> bool:
    """Record the first time a patient is shown a synthetic video with its disclosure."""
    if ViewAcknowledgment.objects.filter(video=video, patient=patient).exists():
        return False
    with transaction.atomic():
        entry = ledger_append(
            event_type="video.view_acknowledged",
            clinic_id=video.clinic_id,
            object_type="video",
            object_id=video.id,
            actor=patient,
            subject=patient,
            data={"label": str(video.label_id), "sha256": video.content_sha256},
        )
        ViewAcknowledgment.objects.create(video=video, patient=patient, ledger_seq=entry.seq)
    return True
