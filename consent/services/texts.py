"""Consent texts: each publication is a new version; a signature points at the exact version signed."""

from __future__ import annotations

from django.db import transaction

from consent.errors import ConsentErrorCode
from consent.ledger import ledger_append
from consent.models import ConsentKind, ConsentText
from consent.policy import can_manage_texts, require
from consent.services._common import refuse
from core.models import User


def consent_text_publish(*, actor: User, kind: str, language: str, title: str, body: str) -> ConsentText:
    """Publish a new version of a consent text; earlier signatures keep pointing at their version."""
    require(can_manage_texts(actor))
    if kind not in ConsentKind.values:
        raise refuse(f"Unknown consent kind {kind!r}.", ConsentErrorCode.INVALID_SCOPE)
    if len(body.strip()) < 40:
        raise refuse(
            "A consent text must explain what is consented to (at least 40 characters).",
            ConsentErrorCode.INVALID_SCOPE,
        )
    with transaction.atomic():
        latest = (
            ConsentText.objects.select_for_update()
            .filter(clinic_id=actor.member_clinic_id, kind=kind, language=language)
            .order_by("-version")
            .first()
        )
        text = ConsentText.objects.create(
            clinic_id=actor.member_clinic_id,
            kind=kind,
            language=language,
            version=(latest.version + 1) if latest else 1,
            title=title.strip(),
            body=body.strip(),
            created_by=actor,
        )
        ledger_append(
            event_type="consent_text.published",
            clinic_id=actor.clinic_id,
            object_type="consent_text",
            object_id=text.id,
            actor=actor,
            data={"kind": kind, "language": language, "version": text.version, "sha256": text.sha256},
        )
    return text
