"""Patient consents: grant with a signature, withdraw, and what others may see."""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import LedgerEntry, PatientConsentStatus
from consent.selectors import patient_consent_list
from consent.services.patient import (
    patient_consent_grant,
    patient_consent_is_active,
    patient_consent_withdraw,
    patient_terms,
)
from consent.services.signatures import signature_is_valid
from core.errors import ApplicationError
from tests.support import PASSWORD


def test_a_patient_grants_and_withdraws_a_recording_consent(texts: Any) -> None:
    consent = patient_consent_grant(
        patient=texts.patient,
        kind="patient_recording",
        purpose="Second opinion on my knee",
        password=PASSWORD,
    )
    assert patient_consent_is_active(patient=texts.patient, kind="patient_recording")
    assert signature_is_valid(
        signature=consent.signature,
        record_type="patient_consent",
        record_id=consent.id,
        text=consent.text,
        terms=patient_terms(consent),
    )
    patient_consent_withdraw(patient=texts.patient, consent_id=consent.id)
    consent.refresh_from_db()
    assert consent.status == PatientConsentStatus.WITHDRAWN and consent.withdrawn_at is not None
    assert not patient_consent_is_active(patient=texts.patient, kind="patient_recording")
    events = list(LedgerEntry.objects.filter(object_id=str(consent.id)).values_list("event_type", "entry"))
    assert [e for e, _ in events] == ["patient_consent.granted", "patient_consent.withdrawn"]
    assert all("knee" not in entry for _, entry in events)  # the purpose is PHI-ish: only its hash is logged


def test_granting_needs_the_password(texts: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        patient_consent_grant(
            patient=texts.patient, kind="patient_recording", purpose="Teaching", password="x"
        )
    assert refused.value.code == "signature_reauthentication_failed"


def test_a_withdrawn_consent_cannot_be_withdrawn_again(texts: Any) -> None:
    consent = patient_consent_grant(
        patient=texts.patient, kind="patient_use", purpose="Teaching residents", password=PASSWORD
    )
    patient_consent_withdraw(patient=texts.patient, consent_id=consent.id)
    with pytest.raises(ApplicationError) as refused:
        patient_consent_withdraw(patient=texts.patient, consent_id=consent.id)
    assert refused.value.status == 409


def test_only_the_patient_withdraws_their_consent(texts: Any, clinic_b: Any) -> None:
    consent = patient_consent_grant(
        patient=texts.patient, kind="patient_use", purpose="Teaching residents", password=PASSWORD
    )
    for other in (texts.clinician, clinic_b.patient):
        with pytest.raises(ApplicationError):
            patient_consent_withdraw(patient=other, consent_id=consent.id)


@pytest.mark.parametrize(
    "kind,purpose", [("likeness", "Teaching"), ("patient_use", "x"), ("patient_use", "")]
)
def test_bad_patient_consent_input_is_refused(texts: Any, kind: str, purpose: str) -> None:
    with pytest.raises(ApplicationError):
        patient_consent_grant(patient=texts.patient, kind=kind, purpose=purpose, password=PASSWORD)


def test_staff_see_the_clinics_patient_consents_and_other_clinics_see_none(texts: Any, clinic_b: Any) -> None:
    consent = patient_consent_grant(
        patient=texts.patient, kind="patient_anonymization", purpose="Case conference", password=PASSWORD
    )
    for user in (texts.clinician, texts.compliance, texts.admin, texts.patient):
        assert list(patient_consent_list(user=user)) == [consent]
    for user in clinic_b.by_role.values():
        assert list(patient_consent_list(user=user)) == []
