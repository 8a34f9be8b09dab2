"""The consent policy as a matrix: every persona against every rule, then the services and pages that
ask the rules.

Personas: the four roles of one clinic, an anonymous visitor, and a platform operator (a superuser
with no clinic and no role), who may do nothing in a clinic's consents.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from consent import policy
from consent.errors import ConsentErrorCode
from consent.models import LedgerEntry, LikenessConsent, LikenessStatus
from core.errors import ApplicationError
from core.models import Role, User
from tests.support import PASSWORD, PERSONAS, policy_persona, signed_in_client

STAFF = {Role.CLINIC_ADMIN, Role.CLINICIAN, Role.COMPLIANCE_OFFICER}
OVERSIGHT = {Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER}

# Who each rule lets through; everyone else is refused.
ALLOWED: dict[Callable[[Any], bool], set[str]] = {
    policy.is_member: set(Role.values),
    policy.is_clinic_staff: STAFF,
    policy.can_manage_texts: {Role.CLINIC_ADMIN},
    policy.can_verify_likeness_consents: {Role.CLINIC_ADMIN},
    policy.can_record_departures: {Role.CLINIC_ADMIN},
    policy.can_give_likeness_consent: {Role.CLINICIAN},
    policy.can_give_patient_consent: {Role.PATIENT},
    policy.can_view_compliance: OVERSIGHT,
    policy.can_export_evidence: OVERSIGHT,
}
# Rules about one record, tested on their own below.
OBJECT_RULES = {policy.can_revoke_likeness_consent}


def test_the_matrix_covers_every_rule_of_the_policy() -> None:
    rules = {
        function
        for name, function in inspect.getmembers(policy, inspect.isfunction)
        if name.startswith(("can_", "is_")) and function.__module__ == policy.__name__
    }
    assert rules == set(ALLOWED) | OBJECT_RULES


@pytest.mark.parametrize("rule", list(ALLOWED), ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_rule_lets_through_exactly_its_roles(persona: str, rule: Callable[[Any], bool]) -> None:
    assert rule(policy_persona(persona)) is (persona in ALLOWED[rule])


@pytest.mark.parametrize("persona", PERSONAS)
def test_nobody_may_revoke_a_likeness_consent_that_is_not_theirs(persona: str) -> None:
    someone_elses = LikenessConsent(clinician_id=8)
    assert policy.can_revoke_likeness_consent(policy_persona(persona, pk=7), someone_elses) is False


def test_a_clinician_may_revoke_their_own_likeness_consent() -> None:
    clinician = policy_persona(Role.CLINICIAN, pk=7)
    assert policy.can_revoke_likeness_consent(clinician, LikenessConsent(clinician=clinician)) is True


def test_require_lets_an_allowed_action_pass() -> None:
    assert policy.require(policy.can_manage_texts(policy_persona(Role.CLINIC_ADMIN))) is None


def test_require_refuses_with_403_and_the_services_message_and_code() -> None:
    with pytest.raises(ApplicationError) as refused:
        policy.require(policy.can_manage_texts(policy_persona(Role.CLINICIAN)))
    assert refused.value.status == 403
    assert refused.value.code == ConsentErrorCode.NOT_ALLOWED
    assert refused.value.message == "Your role cannot do this."


def test_require_keeps_the_message_and_code_a_caller_gives() -> None:
    with pytest.raises(ApplicationError) as refused:
        policy.require(False, "Only compliance officers.", code=ConsentErrorCode.PERMISSION_DENIED)
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        403,
        "permission_denied",
        "Only compliance officers.",
    )


# --- the services ask the policy -------------------------------------------------------------------


def _publish_text(actor: User, consent: LikenessConsent) -> None:
    from consent.services.texts import consent_text_publish

    consent_text_publish(
        actor=actor, kind="likeness", language="en", title="Likeness", body="I consent to " + "x" * 40
    )


def _publish_label(actor: User, consent: LikenessConsent) -> None:
    from consent.services.labels import disclosure_label_publish

    disclosure_label_publish(
        actor=actor,
        language="en",
        visible_text="AI video of {clinician}, who consented. Contact: {contact}",
        spoken_start="This is an AI video.",
        spoken_end="This was an AI video.",
    )


def _sign_likeness(actor: User, consent: LikenessConsent) -> None:
    from consent.services.likeness import likeness_consent_sign
    from tests.consent.conftest import scope

    likeness_consent_sign(clinician=actor, scope=scope(), password=PASSWORD)


def _verify_by_hand(actor: User, consent: LikenessConsent) -> None:
    from consent.services.likeness import likeness_consent_verify_manual

    likeness_consent_verify_manual(actor=actor, consent_id=consent.id)


def _record_departure(actor: User, consent: LikenessConsent) -> None:
    from consent.services.likeness import clinician_departure_record

    clinician_departure_record(actor=actor, clinician_id=consent.clinician_id, reason="clinician_departed")


def _grant_patient_consent(actor: User, consent: LikenessConsent) -> None:
    from consent.services.patient import patient_consent_grant

    patient_consent_grant(patient=actor, kind="patient_recording", purpose="Teaching", password=PASSWORD)


SERVICES: dict[Callable[[User, LikenessConsent], None], set[str]] = {
    _publish_text: ALLOWED[policy.can_manage_texts],
    _publish_label: ALLOWED[policy.can_manage_texts],
    _sign_likeness: ALLOWED[policy.can_give_likeness_consent],
    _verify_by_hand: ALLOWED[policy.can_verify_likeness_consents],
    _record_departure: ALLOWED[policy.can_record_departures],
    _grant_patient_consent: ALLOWED[policy.can_give_patient_consent],
}


@pytest.mark.parametrize(
    "service,role",
    [(service, role) for service, allowed in SERVICES.items() for role in Role.values if role not in allowed],
    ids=lambda value: getattr(value, "__name__", str(value)).strip("_"),
)
def test_a_service_refuses_a_role_its_rule_refuses_and_writes_nothing(
    texts: Any, service: Callable[[User, LikenessConsent], None], role: str
) -> None:
    from consent.services.likeness import likeness_consent_sign
    from tests.consent.conftest import scope

    awaiting = likeness_consent_sign(clinician=texts.clinician, scope=scope(), password=PASSWORD)
    before = LedgerEntry.objects.count()
    with pytest.raises(ApplicationError) as refused:
        service(texts.by_role[role], awaiting)
    assert (refused.value.status, refused.value.code) == (403, ConsentErrorCode.NOT_ALLOWED)
    assert LedgerEntry.objects.count() == before
    awaiting.refresh_from_db()
    assert awaiting.status == LikenessStatus.AWAITING_VERIFICATION


# --- the pages and the API ask the policy ----------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_the_clinician_timeline_is_for_oversight_roles(texts: Any, role: str) -> None:
    response = signed_in_client(texts.by_role[role]).get(f"/compliance/clinicians/{texts.clinician.pk}/")
    assert response.status_code == (200 if role in OVERSIGHT else 403)
    if response.status_code == 403:
        assert b"Only compliance officers and clinic admins see timelines." in response.content


@pytest.mark.parametrize("role", Role.values)
def test_only_clinicians_post_a_consent_statement(texts: Any, role: str) -> None:
    from tests.consent.conftest import active_consent

    consent = active_consent(texts)
    response = signed_in_client(texts.by_role[role]).post(f"/consent/likeness/{consent.id}/evidence/")
    if role == Role.CLINICIAN:
        assert response.status_code == 400  # allowed in, then told to choose a file
    else:
        assert response.status_code == 403
        assert b"Only clinicians record a consent statement." in response.content


@pytest.mark.parametrize("role", Role.values)
def test_ledger_verification_through_the_api_is_for_oversight_roles(texts: Any, role: str) -> None:
    from tests.support import api_client

    response = api_client(texts.by_role[role]).get("/api/v1/ledger/verify/")
    assert response.status_code == (200 if role in OVERSIGHT else 403)
    if response.status_code == 403:
        assert response.json()["code"] == "permission_denied"
