"""The likeness consent of a clinician: signing, the recorded statement and its verification,
revocation, departure and expiry, and the render gate every video passes.

Every state change and its ledger entry commit in one transaction. Nothing is deleted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from consent import merkle
from consent.errors import ConsentErrorCode
from consent.hooks import consent_end_handlers, consent_end_previews, evidence_checkers
from consent.ledger import ledger_append
from consent.models import (
    ConsentKind,
    ConsentText,
    LikenessConsent,
    LikenessStatus,
    Representation,
    StatementCapture,
    VerificationMethod,
)
from consent.policy import (
    can_give_likeness_consent,
    can_record_departures,
    can_revoke_likeness_consent,
    can_verify_likeness_consents,
    require,
)
from consent.services._common import get_for_update, refuse
from consent.services.challenges import (
    ChallengeStatus,
    ChallengeUse,
    statement_challenge_use,
    statement_expected_text,
)
from consent.services.signatures import signature_create
from core.models import User
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record


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
                raise refuse(
                    f"Choose at least one of the allowed {name}.", ConsentErrorCode.INVALID_SCOPE, field=name
                )
        if not 1 <= cleaned.valid_years <= settings.LIKENESS_CONSENT_MAX_YEARS:
            raise refuse(
                f"A likeness consent lasts 1 to {settings.LIKENESS_CONSENT_MAX_YEARS} years.",
                ConsentErrorCode.INVALID_SCOPE,
                field="valid_years",
            )
        if cleaned.max_videos is not None and cleaned.max_videos < 1:
            raise refuse(
                "The maximum number of videos must be at least 1.",
                ConsentErrorCode.INVALID_SCOPE,
                field="max_videos",
            )
        if cleaned.representation not in Representation.values:
            raise refuse(
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
    require(can_give_likeness_consent(clinician))
    scope = scope.clean()
    text = (
        ConsentText.objects.filter(
            clinic_id=clinician.member_clinic_id, kind=ConsentKind.LIKENESS, id=text_id
        ).first()
        if text_id
        else ConsentText.objects.filter(
            clinic_id=clinician.member_clinic_id, kind=ConsentKind.LIKENESS, language="en"
        )
        .order_by("-version")
        .first()
    )
    if text is None:
        raise refuse("Your clinic has not published a likeness consent text yet.", ConsentErrorCode.NO_TEXT)
    now = timezone.now()
    with transaction.atomic():
        consent = LikenessConsent(
            clinic_id=clinician.member_clinic_id,
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
        signature = signature_create(
            signer=clinician,
            password=password,
            otp=otp,
            record_type="likeness_consent",
            record_id=consent.id,
            text=text,
            terms=likeness_terms(consent),
            meaning=LIKENESS_MEANING.format(clinic=clinician.member_clinic.name),
        )
        consent.signature = signature
        consent.save()
        ledger_append(
            event_type="likeness_consent.signed",
            clinic_id=clinician.member_clinic_id,
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


def likeness_consent_statement_upload(
    *,
    clinician: User,
    consent_id: Any,
    file: UploadedFile,
    capture: str = StatementCapture.FILE,
    challenge_id: Any = None,
    challenge_phrase: str = "",
) -> LikenessConsent:
    """Check the clinician's recorded consent statement, store it and attach it to the consent.

    `capture` says how it was made: `live` (recorded in the browser, naming the one-time challenge
    it was recorded with) or `file` (an upload, always verified by hand). Every refusal is an
    ApplicationError with its own status (429, 413, 415, 422, 400, 404); a refused statement leaves
    neither a row nor a file. A bad challenge is no refusal: the statement is kept and held for a
    clinic admin, with the reason on the ledger.
    """
    if capture not in StatementCapture.values:
        raise refuse("Capture must be 'live' or 'file'.", ConsentErrorCode.INVALID_SCOPE, field="capture")
    upload_rate_limit(actor=clinician)
    with Scratch() as scratch:
        checked = upload_check(file=file, kinds={"video"}, scratch=scratch)
        return upload_record(
            actor=clinician,
            checked=checked,
            purpose="consent_statement",
            then=lambda upload: likeness_consent_attach_evidence(
                clinician=clinician,
                consent_id=consent_id,
                upload=upload,
                capture=capture,
                challenge_id=challenge_id,
                challenge_phrase=challenge_phrase,
            ),
        )


def likeness_consent_attach_evidence(
    *,
    clinician: User,
    consent_id: Any,
    upload: Any,
    capture: str = StatementCapture.FILE,
    challenge_id: Any = None,
    challenge_phrase: str = "",
) -> LikenessConsent:
    """Store the clinician's recorded consent statement with the consent and use up its challenge;
    the avatar studio then checks it (identity, words, re-use, manipulation)."""
    with transaction.atomic():
        consent = get_for_update(
            LikenessConsent, clinic_id=clinician.member_clinic_id, object_id=consent_id, clinician=clinician
        )
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise refuse(
                "Evidence can only be added while the consent awaits verification.",
                ConsentErrorCode.INVALID_TRANSITION,
            )
        used = (
            statement_challenge_use(
                clinician=clinician, consent=consent, challenge_id=challenge_id, phrase=challenge_phrase
            )
            if challenge_id
            else ChallengeUse(ChallengeStatus.MISSING)
        )
        consent.evidence_upload = upload
        consent.statement_capture = capture
        consent.statement_challenge = used.challenge
        consent.statement_expected_text = (
            statement_expected_text(consent, used.phrase) if used.status == ChallengeStatus.VALID else ""
        )
        consent.statement_checks = {}
        consent.save(
            update_fields=[
                "evidence_upload",
                "statement_capture",
                "statement_challenge",
                "statement_expected_text",
                "statement_checks",
            ]
        )
        ledger_append(
            event_type="likeness_consent.evidence_attached",
            clinic_id=clinician.member_clinic_id,
            object_type="likeness_consent",
            object_id=consent.id,
            actor=clinician,
            subject=clinician,
            data={
                "upload": str(upload.id),
                "sha256": upload.sha256,
                "capture": capture,
                "challenge": str(used.challenge.id) if used.challenge else "",
                "challenge_status": used.status.value,
            },
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
    """A clinic admin verifies the consent statement by hand (recorded as manual, with the automated
    checks the admin overruled, so the ledger shows what was accepted despite them)."""
    require(can_verify_likeness_consents(actor))
    with transaction.atomic():
        consent = get_for_update(LikenessConsent, clinic_id=actor.clinic_id, object_id=consent_id)
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise refuse(
                f"Only a consent awaiting verification can be verified (this one is {consent.status}).",
                ConsentErrorCode.INVALID_TRANSITION,
            )
        overruled = sorted(
            name for name, check in consent.statement_checks.items() if not check.get("passed")
        )
        _activate(
            consent,
            method=VerificationMethod.MANUAL,
            actor=actor,
            scores={
                "note": note_code[:40],
                "capture": consent.statement_capture or StatementCapture.FILE,
                "failed_checks": overruled,
            },
        )
    return consent


def likeness_consent_verify_automated(
    *, consent_id: Any, passed: bool, scores: dict[str, Any], checks: dict[str, Any] | None = None
) -> LikenessConsent:
    """Record the automated statement check; activate the consent only when it passed and the
    statement was captured live with its challenge. Otherwise it waits for a clinic admin, who sees
    `checks` (each check's score, threshold and evidence).

    `scores` must be canonical-JSON friendly: integers (e.g. thousandths), strings and booleans.
    """
    with transaction.atomic():
        consent = LikenessConsent.objects.select_for_update().get(id=consent_id)
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise refuse("The consent no longer awaits verification.", ConsentErrorCode.INVALID_TRANSITION)
        # An uploaded file never activates a consent on its own, whatever a checker reports.
        accepted = passed and consent.statement_capture == StatementCapture.LIVE
        consent.statement_checks = checks or {}
        consent.save(update_fields=["statement_checks"])
        ledger_append(
            event_type="likeness_consent.evidence_checked",
            clinic_id=consent.clinic_id,
            object_type="likeness_consent",
            object_id=consent.id,
            subject=consent.clinician_id,
            data={
                "passed": accepted,
                "held_for_manual_verification": not accepted,
                "capture": consent.statement_capture or StatementCapture.FILE,
                "scores": scores,
            },
        )
        if accepted:
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
        consent = get_for_update(LikenessConsent, clinic_id=actor.clinic_id, object_id=consent_id)
        require(
            can_revoke_likeness_consent(actor, consent),
            "Only the clinician can revoke their own likeness consent; a clinic admin records a "
            "departure instead.",
        )
        if consent.status not in REVOCABLE:
            raise refuse(
                f"This consent is already {consent.status}.", ConsentErrorCode.INVALID_TRANSITION, status=409
            )
        _end(consent, status=LikenessStatus.REVOKED, reason=reason, actor=actor)
    return consent


def likeness_consent_revocation_preview(*, actor: User, consent_id: Any) -> tuple[LikenessConsent, list[str]]:
    """The consent the actor may revoke, and what revoking it would change, in sentences (for the
    confirmation page); refuses as `likeness_consent_revoke` would. Changes nothing."""
    with transaction.atomic():
        consent = get_for_update(LikenessConsent, clinic_id=actor.clinic_id, object_id=consent_id)
    require(
        can_revoke_likeness_consent(actor, consent),
        "Only the clinician can revoke their own likeness consent; a clinic admin records a "
        "departure instead.",
    )
    if consent.status not in REVOCABLE:
        raise refuse(
            f"This consent is already {consent.get_status_display().lower()}.",
            ConsentErrorCode.INVALID_TRANSITION,
            status=409,
        )
    lines = ["Your consent ends now: no new video can be made with your likeness until you sign again."]
    for preview in consent_end_previews():
        lines += preview(consent)
    lines.append("The revocation is recorded in the tamper-evident ledger.")
    return consent, lines


def clinician_departure_record(*, actor: User, clinician_id: Any, reason: str) -> int:
    """A clinic admin records a clinician's departure or death: every usable consent of theirs ends."""
    require(can_record_departures(actor))
    if reason not in ("clinician_departed", "clinician_deceased"):
        raise refuse(
            "Reason must be clinician_departed or clinician_deceased.", ConsentErrorCode.INVALID_SCOPE
        )
    with transaction.atomic():
        consents = list(
            LikenessConsent.objects.select_for_update().filter(
                clinic_id=actor.member_clinic_id, clinician_id=clinician_id, status__in=REVOCABLE
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
        raise refuse("This clinician belongs to another clinic.", ConsentErrorCode.OTHER_CLINIC, status=403)
    consents = LikenessConsent.objects.filter(clinician=clinician).order_by("-created_at")
    consent = consents.filter(status=LikenessStatus.ACTIVE).first()
    if consent is None:
        latest = consents.first()
        if latest is None:
            raise refuse(
                f"{clinician.printed_name} has not given likeness consent.",
                ConsentErrorCode.NO_CONSENT,
                failed="consent",
            )
        reasons: dict[str, str] = {
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
        raise refuse(
            f"{clinician.printed_name}'s likeness consent {reasons.get(latest.status, 'is not active')}.",
            code,
            failed="status",
            status_now=latest.status,
        )
    now = timezone.now()
    if consent.valid_until <= now:
        raise refuse("The likeness consent has expired.", ConsentErrorCode.EXPIRED, failed="valid_until")
    if consent.valid_from > now:
        raise refuse(
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
            raise refuse(
                f"The consent does not cover the {name} '{wanted}' (allowed: {', '.join(allowed)}).",
                code,
                failed=name,
                allowed=allowed,
            )
    if use.synthetic_voice and not consent.synthetic_voice_allowed:
        raise refuse(
            "The consent does not allow a synthetic voice; use the clinician's own recording.",
            ConsentErrorCode.SYNTHETIC_VOICE,
            failed="synthetic_voice",
        )
    if consent.max_videos is not None and consent.uses_count >= consent.max_videos:
        raise refuse(
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
        raise refuse("The consent's limit of videos has been reached.", ConsentErrorCode.USE_LIMIT)
    ledger_append(
        event_type="likeness_consent.used",
        clinic_id=consent.clinic_id,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        subject=consent.clinician_id,
        data={"consent": str(consent.id)},
    )
