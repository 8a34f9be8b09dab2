"""Disclosure labels: publishing a label version and filling it in for one video (AB 3030; EU AI Act
Art. 50). Every video carries its label: nothing in the product turns it off."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

from django.db import transaction

from consent.errors import ConsentErrorCode
from consent.ledger import ledger_append
from consent.models import DisclosureLabel, LikenessConsent
from consent.policy import can_manage_texts, require
from consent.services._common import refuse
from core.models import User

LABEL_PLACEHOLDERS = {"clinician", "clinic", "contact", "consent_date"}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def disclosure_label_publish(
    *, actor: User, language: str, visible_text: str, spoken_start: str, spoken_end: str
) -> DisclosureLabel:
    """Publish a label version. It must say the content is AI-generated, whose likeness, that they
    consented, and how to reach a human (AB 3030; EU AI Act Art. 50)."""
    require(can_manage_texts(actor))
    for name, template in (
        ("visible text", visible_text),
        ("spoken start", spoken_start),
        ("spoken end", spoken_end),
    ):
        unknown = _placeholders(template) - LABEL_PLACEHOLDERS
        if unknown:
            raise refuse(
                f"The {name} uses unknown placeholders: {', '.join(sorted(unknown))}.",
                ConsentErrorCode.LABEL_INVALID,
            )
    missing = [p for p in ("clinician", "contact") if p not in _placeholders(visible_text)]
    if missing or "AI" not in visible_text or "consent" not in visible_text.lower():
        raise refuse(
            "The visible label must say the video is AI-generated (the word 'AI'), name the clinician "
            "({clinician}), say they consented, and give a human contact ({contact}).",
            ConsentErrorCode.LABEL_INVALID,
            missing=missing,
        )
    if "AI" not in spoken_start or "AI" not in spoken_end:
        raise refuse(
            "Both spoken disclaimers must say the video is AI-generated.", ConsentErrorCode.LABEL_INVALID
        )
    with transaction.atomic():
        latest = (
            DisclosureLabel.objects.select_for_update()
            .filter(clinic_id=actor.member_clinic_id, language=language)
            .order_by("-version")
            .first()
        )
        digest = hashlib.sha256("\x1f".join([visible_text, spoken_start, spoken_end]).encode()).hexdigest()
        label = DisclosureLabel.objects.create(
            clinic_id=actor.member_clinic_id,
            language=language,
            version=(latest.version + 1) if latest else 1,
            visible_text=visible_text,
            spoken_start=spoken_start,
            spoken_end=spoken_end,
            sha256=digest,
            created_by=actor,
        )
        ledger_append(
            event_type="disclosure_label.published",
            clinic_id=actor.clinic_id,
            object_type="disclosure_label",
            object_id=label.id,
            actor=actor,
            data={"language": language, "version": label.version, "sha256": digest},
        )
    return label


@dataclass(frozen=True)
class RenderedDisclosure:
    label_id: str
    visible: str
    spoken_start: str
    spoken_end: str


def disclosure_render(
    *, label: DisclosureLabel, clinician: User, consent: LikenessConsent
) -> RenderedDisclosure:
    """Fill a label's placeholders for one video."""
    clinic = clinician.member_clinic
    contact = clinic.contact_phone or clinic.contact_email
    values = {
        "clinician": clinician.printed_name,
        "clinic": clinic.name,
        "contact": contact,
        "consent_date": (consent.signature.signed_at if consent.signature else consent.created_at)
        .date()
        .isoformat(),
    }
    return RenderedDisclosure(
        str(label.id),
        label.visible_text.format(**values),
        label.spoken_start.format(**values),
        label.spoken_end.format(**values),
    )
