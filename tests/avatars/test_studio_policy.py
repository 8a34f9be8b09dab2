"""The studio policy as a matrix: every persona against every rule, then the pages and services that
ask the rules.

Personas: the four roles of one clinic, an anonymous visitor, and a platform operator (a superuser
with no clinic and no role), who may do nothing in a clinic's studio.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars import policy
from avatars.models import Enrollment, Script, Video
from core.errors import ApplicationError
from core.models import Role
from tests.support import ANONYMOUS, OPERATOR, PERSONAS, policy_persona, signed_in_client

STUDIO = {Role.CLINICIAN, Role.CLINIC_ADMIN}

# Who each rule about the actor alone lets through; everyone else is refused.
ALLOWED: dict[Callable[[Any], bool], set[str]] = {
    policy.can_use_studio: STUDIO,
    policy.can_enroll_for_others: {Role.CLINIC_ADMIN},
    policy.can_present: {Role.CLINICIAN},
    policy.watches_as_patient: {Role.PATIENT},
    policy.sees_own_likeness_videos: {Role.CLINICIAN},
    policy.can_anonymize: STUDIO,
}
# Rules about one record or person, tested below.
OBJECT_RULES = {
    policy.can_enroll,
    policy.can_sign_off_enrollment,
    policy.can_delete_enrollment,
    policy.can_approve_script,
    policy.can_review_video,
    policy.can_review_anonymization,
    policy.sees_anonymization_original,
    policy.sees_anonymization_output,
}


def test_the_matrix_covers_every_rule_of_the_policy() -> None:
    rules = {
        function
        for name, function in inspect.getmembers(policy, inspect.isfunction)
        if name.startswith(("can_", "watches_", "sees_")) and function.__module__ == policy.__name__
    }
    assert rules == set(ALLOWED) | OBJECT_RULES


@pytest.mark.parametrize("rule", list(ALLOWED), ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_rule_lets_through_exactly_its_roles(persona: str, rule: Callable[[Any], bool]) -> None:
    assert rule(policy_persona(persona)) is (persona in ALLOWED[rule])


@pytest.mark.parametrize("persona", PERSONAS)
def test_enrolling_a_clinician_is_for_that_clinician_and_clinic_admins(persona: str) -> None:
    actor = policy_persona(persona, pk=7)
    other_clinician = policy_persona(Role.CLINICIAN, pk=8)
    assert policy.can_enroll(actor, other_clinician) is (persona == Role.CLINIC_ADMIN)
    assert policy.can_enroll(actor, actor) is (persona == Role.CLINICIAN)


@pytest.mark.parametrize("persona", [Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER])
def test_nobody_enrolls_someone_who_is_not_a_clinician(persona: str) -> None:
    assert policy.can_enroll(policy_persona(Role.CLINIC_ADMIN, pk=7), policy_persona(persona, pk=8)) is False


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_presenting_clinician_signs_off_approves_and_reviews(persona: str) -> None:
    actor = policy_persona(persona, pk=7)
    theirs = {"enrollment": Enrollment(clinician_id=7), "script": Script(clinician_id=7)}
    someone_elses = {"enrollment": Enrollment(clinician_id=8), "script": Script(clinician_id=8)}
    signed_in = persona not in (ANONYMOUS, OPERATOR)
    for records, expected in ((theirs, signed_in), (someone_elses, False)):
        assert policy.can_sign_off_enrollment(actor, records["enrollment"]) is expected
        assert policy.can_approve_script(actor, records["script"]) is expected
        assert policy.can_review_video(actor, Video(script=records["script"])) is expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_enrollment_is_deleted_by_its_clinician_or_a_clinic_admin(persona: str) -> None:
    """Issue 15 item 2: the clinician shown, or a clinic admin on behalf of one who left."""
    actor = policy_persona(persona, pk=7)
    assert policy.can_delete_enrollment(actor, Enrollment(clinician_id=7)) is (persona in STUDIO)
    assert policy.can_delete_enrollment(actor, Enrollment(clinician_id=8)) is (persona == Role.CLINIC_ADMIN)


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_patients_original_recording_is_seen_only_by_its_uploader_and_clinic_admins(persona: str) -> None:
    from avatars.models import Anonymization

    actor = policy_persona(persona, pk=7)
    uploaded_by_actor = Anonymization(created_by_id=7, patient_id=9, status="in_review")
    uploaded_by_other = Anonymization(created_by_id=8, patient_id=9, status="in_review")
    studio = persona in STUDIO
    assert policy.sees_anonymization_original(actor, uploaded_by_actor) is studio
    assert policy.can_review_anonymization(actor, uploaded_by_actor) is studio
    assert policy.sees_anonymization_original(actor, uploaded_by_other) is (persona == Role.CLINIC_ADMIN)
    assert policy.can_review_anonymization(actor, uploaded_by_other) is (persona == Role.CLINIC_ADMIN)


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_anonymized_output_is_seen_by_reviewers_compliance_its_patient_and_once_published_clinicians(
    persona: str,
) -> None:
    from avatars.models import Anonymization

    actor = policy_persona(persona, pk=9)  # the patient shown, when a patient
    in_review = Anonymization(created_by_id=8, patient_id=9, status="in_review")
    published = Anonymization(created_by_id=8, patient_id=9, status="published")
    before = {Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER, Role.PATIENT}
    assert policy.sees_anonymization_output(actor, in_review) is (persona in before)
    assert policy.sees_anonymization_output(actor, published) is (persona in before | {Role.CLINICIAN})
    another_patients = Anonymization(created_by_id=8, patient_id=10, status="published")
    if persona == Role.PATIENT:
        assert policy.sees_anonymization_output(actor, another_patients) is False


def test_studio_required_refuses_with_403_and_the_studio_code() -> None:
    assert policy.studio_required(policy_persona(Role.CLINICIAN)) is None
    with pytest.raises(ApplicationError) as refused:
        policy.studio_required(policy_persona(Role.COMPLIANCE_OFFICER))
    assert (refused.value.status, refused.value.code) == (403, "permission_denied")
    assert refused.value.message == policy.STUDIO_REFUSAL


# --- the pages and services ask the policy ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_the_studio_pages_let_in_exactly_the_studio_roles(clinic_a: Any, role: str) -> None:
    client = signed_in_client(clinic_a.by_role[role])
    for url in ("/studio/", "/studio/scripts/new/"):
        assert client.get(url).status_code == (200 if role in STUDIO else 403), url


@pytest.mark.django_db
def test_a_clinician_cannot_enroll_another_clinician(clinic_a: Any) -> None:
    from avatars.services import enrollment_portrait_create
    from core.services import clinic_member_create

    other = clinic_member_create(
        clinic=clinic_a.clinic, username="alpha-second", password="x" * 12, role=Role.CLINICIAN
    )
    with pytest.raises(ApplicationError) as refused:
        enrollment_portrait_create(
            actor=clinic_a.clinician, clinician=other, photo=SimpleUploadedFile("p.png", b"x")
        )
    assert refused.value.status == 403
    assert not Enrollment.objects.filter(clinician=other).exists()


@pytest.mark.django_db
def test_a_rate_limited_enrollment_page_answers_429_not_400(clinic_a: Any, settings: Any) -> None:
    """The studio page showed the rate-limit message with a 400, as if the file were wrong."""
    settings.UPLOAD_RATE_LIMIT = 1
    client = signed_in_client(clinic_a.clinician)

    def send() -> int:
        return client.post(
            "/studio/", {"photo": SimpleUploadedFile("portrait.png", b"not a picture")}
        ).status_code

    assert send() == 415  # not a picture: the refusal keeps its own status too
    assert send() == 429
