"""Patient consents: recording, anonymization and use of a consultation, each signed and withdrawable."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.errors import ConsentErrorCode
from consent.hooks import patient_consent_end_handlers
from consent.ledger import ledger_append
from consent.models import (
    PATIENT_KINDS,
    ConsentKind,
    ConsentText,
    LegalBasis,
    PatientConsent,
    PatientConsentStatus,
)
from consent.policy import can_give_patient_consent, require
from consent.services._common import get_for_update, refuse
from consent.services.signatures import signature_create
from core.models import User

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
    require(can_give_patient_consent(patient))
    if kind not in [k.value for k in PATIENT_KINDS]:
        raise refuse("Unknown kind of patient consent.", ConsentErrorCode.INVALID_SCOPE, field="kind")
    if legal_basis not in LegalBasis.values:
        raise refuse("Unknown legal basis.", ConsentErrorCode.INVALID_SCOPE, field="legal_basis")
    purpose = purpose.strip()
    if not 5 <= len(purpose) <= 300:
        raise refuse(
            "State the purpose in 5 to 300 characters.", ConsentErrorCode.INVALID_SCOPE, field="purpose"
        )
    text = (
        ConsentText.objects.filter(clinic_id=patient.member_clinic_id, kind=kind).order_by("-version").first()
    )
    if text is None:
        raise refuse("Your clinic has not published this consent text yet.", ConsentErrorCode.NO_TEXT)
    with transaction.atomic():
        consent_id = uuid.uuid4()
        terms = {"kind": kind, "purpose": purpose, "legal_basis": legal_basis}
        signature = signature_create(
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
            clinic_id=patient.member_clinic_id,
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
    """Withdraw at once; the record stays, marked withdrawn, and every registered handler stops what
    depended on it (consent.hooks), each change a ledger event."""
    with transaction.atomic():
        consent = get_for_update(
            PatientConsent, clinic_id=patient.clinic_id, object_id=consent_id, patient=patient
        )
        if consent.status != PatientConsentStatus.GRANTED:
            raise refuse(
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
        # What depends on the consent stops with it (a running anonymization, its published output).
        for handler in patient_consent_end_handlers():
            for effect in handler(consent):
                ledger_append(
                    event_type=effect.event_type,
                    clinic_id=patient.clinic_id,
                    object_type=effect.object_type,
                    object_id=effect.object_id,
                    actor=patient,
                    subject=patient,
                    data={"consent": str(consent.id), **effect.data},
                )
    return consent


def patient_consent_is_active(*, patient: User, kind: str) -> bool:
    """Whether the patient currently grants this kind of consent."""
    return PatientConsent.objects.filter(
        patient=patient, kind=kind, status=PatientConsentStatus.GRANTED
    ).exists()
