"""Scripts: saving, the presenting clinician's approval, and the fingerprint an approval covers."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from avatars import policy
from avatars.errors import AvatarErrorCode
from avatars.models import Enrollment, EnrollmentStatus, NarrationSource, Script, ScriptStatus
from avatars.services._common import get_for_update, refuse, staff_only
from consent.ledger import ledger_append
from core.models import User
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record


def script_fingerprint(script: Script) -> str:
    """What an approval covers: the words, the language, the use and the narration."""
    parts = [
        script.text,
        script.language,
        script.topic,
        script.audience,
        script.channel,
        script.narration_source,
        str(script.narration_id or ""),
        str(script.enrollment_id),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def script_save(
    *,
    actor: User,
    script_id: Any | None = None,
    enrollment_id: Any,
    title: str,
    language: str,
    topic: str,
    audience: str,
    channel: str,
    text: str,
    narration_source: str,
    narration: UploadedFile | None = None,
) -> Script:
    """Create or edit a script; any edit after approval needs a new approval."""
    staff_only(actor)
    text = text.strip()
    if not 10 <= len(text) <= 20_000:
        raise refuse("A script has 10 to 20,000 characters.", AvatarErrorCode.SCRIPT_INVALID, field="text")
    if narration_source not in NarrationSource.values:
        raise refuse("Unknown narration source.", AvatarErrorCode.SCRIPT_INVALID, field="narration_source")
    with transaction.atomic():
        enrollment = get_for_update(Enrollment, actor, enrollment_id, "Enrollment")
        if enrollment.status != EnrollmentStatus.READY:
            raise refuse(
                "That enrollment is not ready (it is still analysed or needs re-recording).",
                AvatarErrorCode.ENROLLMENT_NOT_READY,
            )
        clinician = enrollment.clinician or (actor if policy.can_present(actor) else None)
        if clinician is None:
            raise refuse(
                "A stock-presenter script needs a clinician to approve it; write it as a clinician.",
                AvatarErrorCode.SCRIPT_INVALID,
            )
        if script_id is None:
            script = Script(
                clinic_id=actor.member_clinic_id, clinician=clinician, enrollment=enrollment, created_by=actor
            )
        else:
            script = get_for_update(Script, actor, script_id, "Script")
        if (
            narration_source == NarrationSource.RECORDING
            and narration is None
            and script.narration_id is None
        ):
            raise refuse(
                "Upload the clinician's narration recording, or choose the synthetic voice.",
                AvatarErrorCode.SCRIPT_INVALID,
                field="narration",
            )
        if narration is not None:
            # Stored last, after every check that could refuse the script, so a refusal leaves no file.
            upload_rate_limit(actor=actor)
            with Scratch() as scratch:
                checked = upload_check(file=narration, kinds={"audio"}, scratch=scratch)
                script.narration = upload_record(
                    actor=actor, checked=checked, purpose="narration", then=lambda u: u
                )
        script.enrollment = enrollment
        script.title, script.language, script.text = title.strip()[:200], language.strip().lower(), text
        script.topic, script.audience, script.channel = (
            topic.strip().lower(),
            audience.strip().lower(),
            channel.strip().lower(),
        )
        script.narration_source = narration_source
        if script.status == ScriptStatus.APPROVED and script.approved_sha256 != script_fingerprint(script):
            script.status = ScriptStatus.DRAFT  # changed after approval: approve again
        script.save()
        ledger_append(
            event_type="script.saved",
            clinic_id=actor.clinic_id,
            object_type="script",
            object_id=script.id,
            actor=actor,
            subject=script.clinician_id,
            data={"sha256": script_fingerprint(script), "status": script.status},
        )
    return script


def script_approve(*, actor: User, script_id: Any) -> Script:
    """The presenting clinician approves the exact script (its fingerprint is recorded)."""
    with transaction.atomic():
        script = get_for_update(Script, actor, script_id, "Script")
        policy.require(
            policy.can_approve_script(actor, script),
            "Only the clinician who presents the script can approve it.",
        )
        script.status = ScriptStatus.APPROVED
        script.approved_sha256 = script_fingerprint(script)
        script.approved_at = timezone.now()
        script.save(update_fields=["status", "approved_sha256", "approved_at"])
        ledger_append(
            event_type="script.approved",
            clinic_id=actor.clinic_id,
            object_type="script",
            object_id=script.id,
            actor=actor,
            subject=actor,
            data={"sha256": script.approved_sha256},
        )
    return script
