"""Consent workflows: texts, labels, signatures, likeness and patient consents, and the render gate.

Every state change and its ledger entry commit in one transaction. Nothing is deleted.
"""

from __future__ import annotations

import hashlib
import logging
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent import merkle
from consent.errors import ConsentErrorCode
from consent.hooks import consent_end_handlers, evidence_checkers
from consent.ledger import ledger_append
from consent.models import (
    PATIENT_KINDS,
    ClinicalReview,
    ConsentKind,
    ConsentText,
    DisclosureLabel,
    LegalBasis,
    LikenessConsent,
    LikenessStatus,
    PatientConsent,
    PatientConsentStatus,
    Representation,
    Signature,
    VerificationMethod,
)
from core.errors import ApplicationError
from core.models import Role, User
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record

logger = logging.getLogger(__name__)


def _refuse(message: str, code: str, *, status: int = 400, **extra: Any) -> ApplicationError:
    return ApplicationError(message, code=code, status=status, extra=extra)


def _require_role(actor: User, *roles: str) -> None:
    if actor.role not in roles:
        raise _refuse("Your role cannot do this.", ConsentErrorCode.NOT_ALLOWED, status=403)


# --- texts and labels ----------------------------------------------------------------------------


def consent_text_publish(*, actor: User, kind: str, language: str, title: str, body: str) -> ConsentText:
    """Publish a new version of a consent text; earlier signatures keep pointing at their version."""
    _require_role(actor, Role.CLINIC_ADMIN)
    if kind not in ConsentKind.values:
        raise _refuse(f"Unknown consent kind {kind!r}.", ConsentErrorCode.INVALID_SCOPE)
    if len(body.strip()) < 40:
        raise _refuse(
            "A consent text must explain what is consented to (at least 40 characters).",
            ConsentErrorCode.INVALID_SCOPE,
        )
    with transaction.atomic():
        latest = (
            ConsentText.objects.select_for_update()
            .filter(clinic_id=actor.clinic_id, kind=kind, language=language)
            .order_by("-version")
            .first()
        )
        text = ConsentText.objects.create(
            clinic_id=actor.clinic_id,
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


LABEL_REQUIRED_WORDS = ("AI",)
LABEL_PLACEHOLDERS = {"clinician", "clinic", "contact", "consent_date"}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def disclosure_label_publish(
    *, actor: User, language: str, visible_text: str, spoken_start: str, spoken_end: str
) -> DisclosureLabel:
    """Publish a label version. It must say the content is AI-generated, whose likeness, that they
    consented, and how to reach a human (AB 3030; EU AI Act Art. 50)."""
    _require_role(actor, Role.CLINIC_ADMIN)
    for name, template in (
        ("visible text", visible_text),
        ("spoken start", spoken_start),
        ("spoken end", spoken_end),
    ):
        unknown = _placeholders(template) - LABEL_PLACEHOLDERS
        if unknown:
            raise _refuse(
                f"The {name} uses unknown placeholders: {', '.join(sorted(unknown))}.",
                ConsentErrorCode.LABEL_INVALID,
            )
    missing = [p for p in ("clinician", "contact") if p not in _placeholders(visible_text)]
    if missing or "AI" not in visible_text or "consent" not in visible_text.lower():
        raise _refuse(
            "The visible label must say the video is AI-generated (the word 'AI'), name the clinician "
            "({clinician}), say they consented, and give a human contact ({contact}).",
            ConsentErrorCode.LABEL_INVALID,
            missing=missing,
        )
    if "AI" not in spoken_start or "AI" not in spoken_end:
        raise _refuse(
            "Both spoken disclaimers must say the video is AI-generated.", ConsentErrorCode.LABEL_INVALID
        )
    with transaction.atomic():
        latest = (
            DisclosureLabel.objects.select_for_update()
            .filter(clinic_id=actor.clinic_id, language=language)
            .order_by("-version")
            .first()
        )
        digest = hashlib.sha256("\x1f".join([visible_text, spoken_start, spoken_end]).encode()).hexdigest()
        label = DisclosureLabel.objects.create(
            clinic_id=actor.clinic_id,
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
    clinic = clinician.clinic
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


def clinical_review_record(*, reviewer: User, licence: str, content_sha256: str) -> ClinicalReview:
    """Record that a licensed clinician reviewed this exact content (the only way to omit a label)."""
    _require_role(reviewer, Role.CLINICIAN)
    if len(content_sha256) != 64 or not licence.strip():
        raise _refuse(
            "A review needs the content's SHA-256 and the reviewer's licence number.",
            ConsentErrorCode.LABEL_INVALID,
        )
    with transaction.atomic():
        review = ClinicalReview.objects.create(
            clinic_id=reviewer.clinic_id,
            reviewer=reviewer,
            reviewer_name=reviewer.printed_name,
            licence=licence.strip(),
            content_sha256=content_sha256,
            reviewed_at=timezone.now(),
        )
        ledger_append(
            event_type="clinical_review.recorded",
            clinic_id=reviewer.clinic_id,
            object_type="clinical_review",
            object_id=review.id,
            actor=reviewer,
            data={"content_sha256": content_sha256},
        )
    return review


def disclosure_label_required(*, clinic_id: Any, content_sha256: str) -> bool:
    """A label is required unless a licensed clinician's review of exactly this content is recorded."""
    return not ClinicalReview.objects.filter(clinic_id=clinic_id, content_sha256=content_sha256).exists()


# --- signatures ----------------------------------------------------------------------------------


def _reauthenticate(user: User, password: str, otp: str) -> str:
    if not user.check_password(password or ""):
        raise _refuse(
            "Your password is needed to sign, and it did not match.",
            ConsentErrorCode.REAUTH_FAILED,
            status=403,
        )
    devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    if not devices.exists():
        return "password"
    if not otp or not any(device.verify_token(otp.strip()) for device in devices):
        raise _refuse(
            "The code from your authenticator app is needed to sign, and it did not match.",
            ConsentErrorCode.REAUTH_FAILED,
            status=403,
        )
    return "password+totp"


def signature_binding(
    *,
    record_type: str,
    record_id: Any,
    text_sha256: str,
    terms: dict[str, Any],
    signer_id: Any,
    printed_name: str,
    meaning: str,
    signed_at: datetime,
) -> str:
    """The hash a signature is bound to: the record, the exact text, the chosen terms and the signer."""
    return hashlib.sha256(
        merkle.canonical_json(
            {
                "record_type": record_type,
                "record_id": str(record_id),
                "text_sha256": text_sha256,
                "terms": terms,
                "signer": str(signer_id),
                "printed_name": printed_name,
                "meaning": meaning,
                "signed_at": int(signed_at.timestamp() * 1000),
            }
        )
    ).hexdigest()


def _sign(
    *,
    signer: User,
    password: str,
    otp: str,
    record_type: str,
    record_id: uuid.UUID,
    text: ConsentText,
    terms: dict[str, Any],
    meaning: str,
) -> Signature:
    method = _reauthenticate(signer, password, otp)
    signed_at = timezone.now()
    binding = signature_binding(
        record_type=record_type,
        record_id=record_id,
        text_sha256=text.sha256,
        terms=terms,
        signer_id=signer.pk,
        printed_name=signer.printed_name,
        meaning=meaning,
        signed_at=signed_at,
    )
    return Signature.objects.create(
        clinic_id=signer.clinic_id,
        signer=signer,
        printed_name=signer.printed_name,
        meaning=meaning,
        signed_at=signed_at,
        record_type=record_type,
        record_id=record_id,
        text_sha256=text.sha256,
        binding_sha256=binding,
        reauthenticated_with=method,
    )


def signature_is_valid(
    *, signature: Signature, record_type: str, record_id: Any, text: ConsentText, terms: dict[str, Any]
) -> bool:
    """Recompute the binding: false if the signature was moved, the text changed, or the terms changed."""
    if hashlib.sha256(text.body.encode()).hexdigest() != signature.text_sha256:
        return False
    expected = signature_binding(
        record_type=record_type,
        record_id=record_id,
        text_sha256=signature.text_sha256,
        terms=terms,
        signer_id=signature.signer_id,
        printed_name=signature.printed_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
    )
    return expected == signature.binding_sha256 and str(signature.record_id) == str(record_id)


# --- likeness consent ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LikenessScope:
    """What a clinician allows. Lists are exact, lower-case codes (e.g. topics 'diabetes')."""

    topics: list[str]
    audiences: list[str]
    languages: list[str]
    channels: list[str]
    synthetic_voice_allowed: bool = False
    max_videos: int | None = None
    valid_years: int = 10
    compensation_terms: str = ""
    representation: str = ""

    def clean(self) -> LikenessScope:
        def norm(items: list[str]) -> list[str]:
            return sorted({item.strip().lower() for item in items if item and item.strip()})

        cleaned = LikenessScope(
            norm(self.topics),
            norm(self.audiences),
            norm(self.languages),
            norm(self.channels),
            bool(self.synthetic_voice_allowed),
            self.max_videos,
            int(self.valid_years),
            self.compensation_terms.strip(),
            self.representation,
        )
        for name in ("topics", "audiences", "languages", "channels"):
            if not getattr(cleaned, name):
                raise _refuse(
                    f"Choose at least one of the allowed {name}.", ConsentErrorCode.INVALID_SCOPE, field=name
                )
        if not 1 <= cleaned.valid_years <= settings.LIKENESS_CONSENT_MAX_YEARS:
            raise _refuse(
                f"A likeness consent lasts 1 to {settings.LIKENESS_CONSENT_MAX_YEARS} years.",
                ConsentErrorCode.INVALID_SCOPE,
                field="valid_years",
            )
        if cleaned.max_videos is not None and cleaned.max_videos < 1:
            raise _refuse(
                "The maximum number of videos must be at least 1.",
                ConsentErrorCode.INVALID_SCOPE,
                field="max_videos",
            )
        if cleaned.representation not in Representation.values:
            raise _refuse(
                "Unknown kind of representation.", ConsentErrorCode.INVALID_SCOPE, field="representation"
            )
        return cleaned


def likeness_terms(consent: LikenessConsent) -> dict[str, Any]:
    """The signed terms of a likeness consent, as bound into its signature."""
    return {
        "topics": consent.topics,
        "audiences": consent.audiences,
        "languages": consent.languages,
        "channels": consent.channels,
        "synthetic_voice_allowed": consent.synthetic_voice_allowed,
        "max_videos": consent.max_videos,
        "valid_from": int(consent.valid_from.timestamp()),
        "valid_until": int(consent.valid_until.timestamp()),
        "compensation_terms": consent.compensation_terms,
        "representation": consent.representation,
    }


LIKENESS_MEANING = (
    "I consent to {clinic} creating synthetic videos with my likeness within the scope shown, "
    "and I know I can revoke this consent at any time."
)


def likeness_consent_sign(
    *, clinician: User, scope: LikenessScope, password: str, otp: str = "", text_id: Any | None = None
) -> LikenessConsent:
    """Create and sign a likeness consent. It becomes active once the consent evidence is verified."""
    _require_role(clinician, Role.CLINICIAN)
    scope = scope.clean()
    text = (
        ConsentText.objects.filter(
            clinic_id=clinician.clinic_id, kind=ConsentKind.LIKENESS, id=text_id
        ).first()
        if text_id
        else ConsentText.objects.filter(
            clinic_id=clinician.clinic_id, kind=ConsentKind.LIKENESS, language="en"
        )
        .order_by("-version")
        .first()
    )
    if text is None:
        raise _refuse("Your clinic has not published a likeness consent text yet.", ConsentErrorCode.NO_TEXT)
    now = timezone.now()
    with transaction.atomic():
        consent = LikenessConsent(
            clinic_id=clinician.clinic_id,
            clinician=clinician,
            text=text,
            text_sha256=text.sha256,
            status=LikenessStatus.AWAITING_VERIFICATION,
            topics=scope.topics,
            audiences=scope.audiences,
            languages=scope.languages,
            channels=scope.channels,
            synthetic_voice_allowed=scope.synthetic_voice_allowed,
            max_videos=scope.max_videos,
            valid_from=now,
            valid_until=now + timedelta(days=365 * scope.valid_years),
            compensation_terms=scope.compensation_terms,
            representation=scope.representation,
        )
        signature = _sign(
            signer=clinician,
            password=password,
            otp=otp,
            record_type="likeness_consent",
            record_id=consent.id,
            text=text,
            terms=likeness_terms(consent),
            meaning=LIKENESS_MEANING.format(clinic=clinician.clinic.name),
        )
        consent.signature = signature
        consent.save()
        ledger_append(
            event_type="likeness_consent.signed",
            clinic_id=clinician.clinic_id,
            object_type="likeness_consent",
            object_id=consent.id,
            actor=clinician,
            subject=clinician,
            data={
                "text_sha256": text.sha256,
                "signature": str(signature.id),
                "binding_sha256": signature.binding_sha256,
                "reauth": signature.reauthenticated_with,
                "terms_sha256": hashlib.sha256(merkle.canonical_json(likeness_terms(consent))).hexdigest(),
            },
        )
    return consent


def _get_for_update(model: type, *, clinic_id: Any, object_id: Any, **filters: Any) -> Any:
    try:
        return model.objects.select_for_update().get(clinic_id=clinic_id, id=object_id, **filters)
    except (model.DoesNotExist, ValueError, TypeError):
        raise _refuse("Consent not found.", ConsentErrorCode.NOT_FOUND, status=404) from None


def likeness_consent_statement_upload(
    *, clinician: User, consent_id: Any, file: UploadedFile
) -> LikenessConsent:
    """Check the clinician's recorded consent statement, store it and attach it to the consent.

    Every refusal is an ApplicationError with its own status (429, 413, 415, 422, 400, 404); a
    refused statement leaves neither a row nor a file.
    """
    upload_rate_limit(actor=clinician)
    with Scratch() as scratch:
        checked = upload_check(file=file, kinds={"video"}, scratch=scratch)
        return upload_record(
            actor=clinician,
            checked=checked,
            purpose="consent_statement",
            then=lambda upload: likeness_consent_attach_evidence(
                clinician=clinician, consent_id=consent_id, upload=upload
            ),
        )


def likeness_consent_attach_evidence(*, clinician: User, consent_id: Any, upload: Any) -> LikenessConsent:
    """Store the clinician's recorded consent statement with the consent (checked by the avatar studio)."""
    with transaction.atomic():
        consent = _get_for_update(
            LikenessConsent, clinic_id=clinician.clinic_id, object_id=consent_id, clinician=clinician
        )
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise _refuse(
                "Evidence can only be added while the consent awaits verification.",
                ConsentErrorCode.INVALID_TRANSITION,
            )
        consent.evidence_upload = upload
        consent.save(update_fields=["evidence_upload"])
        ledger_append(
            event_type="likeness_consent.evidence_attached",
            clinic_id=clinician.clinic_id,
            object_type="likeness_consent",
            object_id=consent.id,
            actor=clinician,
            subject=clinician,
            data={"upload": str(upload.id), "sha256": upload.sha256},
        )
        for checker in evidence_checkers():
            checker(consent)
    return consent


def _activate(consent: LikenessConsent, *, method: str, actor: User | None, scores: dict[str, Any]) -> None:
    now = timezone.now()
    previous = list(
        LikenessConsent.objects.select_for_update()
        .filter(clinician_id=consent.clinician_id, status=LikenessStatus.ACTIVE)
        .exclude(id=consent.id)
    )
    consent.status = LikenessStatus.ACTIVE
    consent.verification_method = method
    consent.verification_scores = scores
    consent.verified_by = actor
    consent.verified_at = now
    consent.save()
    ledger_append(
        event_type="likeness_consent.activated",
        clinic_id=consent.clinic_id,
        object_type="likeness_consent",
        object_id=consent.id,
        actor=actor,
        subject=consent.clinician_id,
        data={"method": method, "scores": scores},
    )
    for old in previous:
        old.status, old.superseded_by, old.ended_at = LikenessStatus.SUPERSEDED, consent, now
        old.save(update_fields=["status", "superseded_by", "ended_at"])
        ledger_append(
            event_type="likeness_consent.superseded",
            clinic_id=old.clinic_id,
            object_type="likeness_consent",
            object_id=old.id,
            subject=old.clinician_id,
            data={"superseded_by": str(consent.id)},
        )


def likeness_consent_verify_manual(
    *, actor: User, consent_id: Any, note_code: str = "reviewed_statement"
) -> LikenessConsent:
    """A clinic admin verifies the consent statement by hand (recorded as manual)."""
    _require_role(actor, Role.CLINIC_ADMIN)
    with transaction.atomic():
        consent = _get_for_update(LikenessConsent, clinic_id=actor.clinic_id, object_id=consent_id)
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise _refuse(
                f"Only a consent awaiting verification can be verified (this one is {consent.status}).",
                ConsentErrorCode.INVALID_TRANSITION,
            )
        _activate(consent, method=VerificationMethod.MANUAL, actor=actor, scores={"note": note_code[:40]})
    return consent


def likeness_consent_verify_automated(
    *, consent_id: Any, passed: bool, scores: dict[str, Any]
) -> LikenessConsent:
    """Record the automated face/voice/liveness check; activate the consent when it passed.

    `scores` must be canonical-JSON friendly: integers (e.g. thousandths), strings and booleans.
    """
    with transaction.atomic():
        consent = LikenessConsent.objects.select_for_update().get(id=consent_id)
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise _refuse("The consent no longer awaits verification.", ConsentErrorCode.INVALID_TRANSITION)
        ledger_append(
            event_type="likeness_consent.evidence_checked",
            clinic_id=consent.clinic_id,
            object_type="likeness_consent",
            object_id=consent.id,
            subject=consent.clinician_id,
            data={"passed": passed, "scores": scores},
        )
        if passed:
            _activate(consent, method=VerificationMethod.AUTOMATED, actor=None, scores=scores)
    return consent


def _end(consent: LikenessConsent, *, status: str, reason: str, actor: User | None) -> None:
    """End a consent and let every app stop what depends on it, all recorded in the ledger."""
    now = timezone.now()
    consent.status = status
    consent.ended_at = now
    if status == LikenessStatus.REVOKED:
        consent.revoked_at = now
        consent.revocation_reason = reason
    consent.save()
    ledger_append(
        event_type=f"likeness_consent.{status}",
        clinic_id=consent.clinic_id,
        object_type="likeness_consent",
        object_id=consent.id,
        actor=actor,
        subject=consent.clinician_id,
        data={"reason": reason},
    )
    for handler in consent_end_handlers():
        for effect in handler(consent, reason):
            ledger_append(
                event_type=effect.event_type,
                clinic_id=consent.clinic_id,
                object_type=effect.object_type,
                object_id=effect.object_id,
                actor=actor,
                subject=consent.clinician_id,
                data={"consent": str(consent.id), "reason": reason, **effect.data},
            )


REVOCABLE = (LikenessStatus.DRAFT, LikenessStatus.AWAITING_VERIFICATION, LikenessStatus.ACTIVE)


def likeness_consent_revoke(
    *, actor: User, consent_id: Any, reason: str = "revoked_by_clinician"
) -> LikenessConsent:
    """Revoke at once: one action, no password, same page as granting (SPEC principle 2)."""
    with transaction.atomic():
        consent = _get_for_update(LikenessConsent, clinic_id=actor.clinic_id, object_id=consent_id)
        if actor.pk != consent.clinician_id:
            raise _refuse(
                "Only the clinician can revoke their own likeness consent; a clinic admin records a "
                "departure instead.",
                ConsentErrorCode.NOT_ALLOWED,
                status=403,
            )
        if consent.status not in REVOCABLE:
            raise _refuse(
                f"This consent is already {consent.status}.", ConsentErrorCode.INVALID_TRANSITION, status=409
            )
        _end(consent, status=LikenessStatus.REVOKED, reason=reason, actor=actor)
    return consent


def clinician_departure_record(*, actor: User, clinician_id: Any, reason: str) -> int:
    """A clinic admin records a clinician's departure or death: every usable consent of theirs ends."""
    _require_role(actor, Role.CLINIC_ADMIN)
    if reason not in ("clinician_departed", "clinician_deceased"):
        raise _refuse(
            "Reason must be clinician_departed or clinician_deceased.", ConsentErrorCode.INVALID_SCOPE
        )
    with transaction.atomic():
        consents = list(
            LikenessConsent.objects.select_for_update().filter(
                clinic_id=actor.clinic_id, clinician_id=clinician_id, status__in=REVOCABLE
            )
        )
        for consent in consents:
            _end(consent, status=LikenessStatus.REVOKED, reason=reason, actor=actor)
    return len(consents)


def likeness_consents_expire(*, now: datetime | None = None) -> int:
    """End every consent whose period is over (periodic task)."""
    now = now or timezone.now()
    count = 0
    for consent_id in LikenessConsent.objects.filter(status__in=REVOCABLE, valid_until__lte=now).values_list(
        "id", flat=True
    ):
        with transaction.atomic():
            consent = LikenessConsent.objects.select_for_update().get(id=consent_id)
            if consent.status in REVOCABLE and consent.valid_until <= now:
                _end(consent, status=LikenessStatus.EXPIRED, reason="validity_period_ended", actor=None)
                count += 1
    return count


@dataclass(frozen=True)
class IntendedUse:
    """What a render would do with a likeness."""

    topic: str
    audience: str
    language: str
    channel: str
    synthetic_voice: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def likeness_consent_assert_allows(
    *, clinician: User, use: IntendedUse, clinic_id: Any | None = None
) -> LikenessConsent:
    """The single gate every render passes: returns the active consent or explains the refusal.

    Checked when a render is queued, when it starts and before publication.
    """
    if clinic_id is not None and str(clinic_id) != str(clinician.clinic_id):
        raise _refuse("This clinician belongs to another clinic.", ConsentErrorCode.OTHER_CLINIC, status=403)
    consents = LikenessConsent.objects.filter(clinician=clinician).order_by("-created_at")
    consent = consents.filter(status=LikenessStatus.ACTIVE).first()
    if consent is None:
        latest = consents.first()
        if latest is None:
            raise _refuse(
                f"{clinician.printed_name} has not given likeness consent.",
                ConsentErrorCode.NO_CONSENT,
                failed="consent",
            )
        reasons = {
            LikenessStatus.REVOKED: "was revoked",
            LikenessStatus.EXPIRED: "has expired",
            LikenessStatus.AWAITING_VERIFICATION: "is not verified yet",
            LikenessStatus.DRAFT: "is not signed",
        }
        code = (
            ConsentErrorCode.EXPIRED
            if latest.status == LikenessStatus.EXPIRED
            else ConsentErrorCode.NOT_ACTIVE
        )
        raise _refuse(
            f"{clinician.printed_name}'s likeness consent {reasons.get(latest.status, 'is not active')}.",
            code,
            failed="status",
            status_now=latest.status,
        )
    now = timezone.now()
    if consent.valid_until <= now:
        raise _refuse("The likeness consent has expired.", ConsentErrorCode.EXPIRED, failed="valid_until")
    if consent.valid_from > now:
        raise _refuse(
            "The likeness consent is not valid yet.", ConsentErrorCode.NOT_YET_VALID, failed="valid_from"
        )
    checks = [
        ("topic", use.topic, consent.topics, ConsentErrorCode.TOPIC),
        ("audience", use.audience, consent.audiences, ConsentErrorCode.AUDIENCE),
        ("language", use.language, consent.languages, ConsentErrorCode.LANGUAGE),
        ("channel", use.channel, consent.channels, ConsentErrorCode.CHANNEL),
    ]
    for name, wanted, allowed, code in checks:
        if wanted.strip().lower() not in allowed:
            raise _refuse(
                f"The consent does not cover the {name} '{wanted}' (allowed: {', '.join(allowed)}).",
                code,
                failed=name,
                allowed=allowed,
            )
    if use.synthetic_voice and not consent.synthetic_voice_allowed:
        raise _refuse(
            "The consent does not allow a synthetic voice; use the clinician's own recording.",
            ConsentErrorCode.SYNTHETIC_VOICE,
            failed="synthetic_voice",
        )
    if consent.max_videos is not None and consent.uses_count >= consent.max_videos:
        raise _refuse(
            f"The consent allows {consent.max_videos} videos and all have been made.",
            ConsentErrorCode.USE_LIMIT,
            failed="max_videos",
        )
    return consent


def likeness_consent_record_use(
    *, consent: LikenessConsent, object_type: str, object_id: Any, actor: User | None
) -> None:
    """Count one video against the consent's cap (conditional update: the cap holds under races)."""
    capped = Q(max_videos__isnull=True) | Q(uses_count__lt=F("max_videos"))
    updated = LikenessConsent.objects.filter(capped, id=consent.id, status=LikenessStatus.ACTIVE).update(
        uses_count=F("uses_count") + 1
    )
    if not updated:
        raise _refuse("The consent's limit of videos has been reached.", ConsentErrorCode.USE_LIMIT)
    ledger_append(
        event_type="likeness_consent.used",
        clinic_id=consent.clinic_id,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        subject=consent.clinician_id,
        data={"consent": str(consent.id)},
    )


# --- patient consents ----------------------------------------------------------------------------


PATIENT_MEANINGS = {
    ConsentKind.PATIENT_RECORDING: "I consent to the recording of my consultation for the purpose stated.",
    ConsentKind.PATIENT_ANONYMIZATION: "I consent to the anonymization of my recorded consultation.",
    ConsentKind.PATIENT_USE: "I consent to the use of the anonymized video for the purpose stated.",
}


def patient_consent_grant(
    *,
    patient: User,
    kind: str,
    purpose: str,
    password: str,
    otp: str = "",
    legal_basis: str = LegalBasis.EXPLICIT_CONSENT,
) -> PatientConsent:
    """A patient grants one consent, signed after re-authentication."""
    _require_role(patient, Role.PATIENT)
    if kind not in [k.value for k in PATIENT_KINDS]:
        raise _refuse("Unknown kind of patient consent.", ConsentErrorCode.INVALID_SCOPE, field="kind")
    if legal_basis not in LegalBasis.values:
        raise _refuse("Unknown legal basis.", ConsentErrorCode.INVALID_SCOPE, field="legal_basis")
    purpose = purpose.strip()
    if not 5 <= len(purpose) <= 300:
        raise _refuse(
            "State the purpose in 5 to 300 characters.", ConsentErrorCode.INVALID_SCOPE, field="purpose"
        )
    text = ConsentText.objects.filter(clinic_id=patient.clinic_id, kind=kind).order_by("-version").first()
    if text is None:
        raise _refuse("Your clinic has not published this consent text yet.", ConsentErrorCode.NO_TEXT)
    with transaction.atomic():
        consent_id = uuid.uuid4()
        terms = {"kind": kind, "purpose": purpose, "legal_basis": legal_basis}
        signature = _sign(
            signer=patient,
            password=password,
            otp=otp,
            record_type="patient_consent",
            record_id=consent_id,
            text=text,
            terms=terms,
            meaning=PATIENT_MEANINGS[ConsentKind(kind)],
        )
        consent = PatientConsent.objects.create(
            id=consent_id,
            clinic_id=patient.clinic_id,
            patient=patient,
            kind=kind,
            purpose=purpose,
            legal_basis=legal_basis,
            text=text,
            text_sha256=text.sha256,
            signature=signature,
            granted_at=signature.signed_at,
        )
        # The purpose is free text a patient wrote: only its hash goes into the ledger.
        ledger_append(
            event_type="patient_consent.granted",
            clinic_id=patient.clinic_id,
            object_type="patient_consent",
            object_id=consent.id,
            actor=patient,
            subject=patient,
            data={
                "kind": kind,
                "legal_basis": legal_basis,
                "text_sha256": text.sha256,
                "purpose_sha256": hashlib.sha256(purpose.encode()).hexdigest(),
                "binding_sha256": signature.binding_sha256,
            },
        )
    return consent


def patient_terms(consent: PatientConsent) -> dict[str, Any]:
    return {"kind": consent.kind, "purpose": consent.purpose, "legal_basis": consent.legal_basis}


def patient_consent_withdraw(*, patient: User, consent_id: Any) -> PatientConsent:
    """Withdraw at once; the record stays, marked withdrawn."""
    with transaction.atomic():
        consent = _get_for_update(
            PatientConsent, clinic_id=patient.clinic_id, object_id=consent_id, patient=patient
        )
        if consent.status != PatientConsentStatus.GRANTED:
            raise _refuse(
                "This consent is already withdrawn.", ConsentErrorCode.INVALID_TRANSITION, status=409
            )
        consent.status = PatientConsentStatus.WITHDRAWN
        consent.withdrawn_at = timezone.now()
        consent.save(update_fields=["status", "withdrawn_at"])
        ledger_append(
            event_type="patient_consent.withdrawn",
            clinic_id=patient.clinic_id,
            object_type="patient_consent",
            object_id=consent.id,
            actor=patient,
            subject=patient,
            data={"kind": consent.kind},
        )
    return consent


def patient_consent_is_active(*, patient: User, kind: str) -> bool:
    """Whether the patient currently grants this kind of consent."""
    return PatientConsent.objects.filter(
        patient=patient, kind=kind, status=PatientConsentStatus.GRANTED
    ).exists()
