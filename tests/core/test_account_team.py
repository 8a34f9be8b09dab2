"""A clinic admin's account actions on the Team page: reset a member's second factor, deactivate a
member, invite with the least-privileged role first. Only admins, only their own clinic."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import ApplicationError
from core.forms import InvitationCreateForm
from core.models import Role, User
from core.services import member_deactivate, member_second_factor_reset
from tests.support import PASSWORD, ClinicPeople, api_client, signed_in_client


def _reset_url(member: User) -> str:
    return f"/team/members/{member.pk}/second-factor-reset/"


def _deactivate_url(member: User) -> str:
    return f"/team/members/{member.pk}/deactivate/"


# --- invitations -------------------------------------------------------------------------------


def test_the_invitation_form_starts_on_the_least_privileged_role(clinic_a: ClinicPeople) -> None:
    assert InvitationCreateForm()["role"].value() == Role.PATIENT
    page = signed_in_client(clinic_a.admin).get("/team/").content.decode()
    assert '<option value="patient" selected>' in page
    assert (
        page.index('value="patient"') < page.index('value="clinician"') < page.index('value="clinic_admin"')
    )


# --- second factor reset -----------------------------------------------------------------------


def test_an_admin_resets_a_members_second_factor_and_the_member_enrols_again(
    clinic_a: ClinicPeople,
) -> None:
    officer = clinic_a.compliance
    admin = signed_in_client(clinic_a.admin)
    confirm = admin.get(_reset_url(officer))
    assert confirm.status_code == 200 and b"Reset second factor" in confirm.content
    assert TOTPDevice.objects.filter(user=officer).exists()  # the confirmation page changes nothing
    assert admin.post(_reset_url(officer))["Location"] == "/team/"
    assert not TOTPDevice.objects.filter(user=officer).exists()

    client = Client()
    client.post("/account/login/", {"username": officer.username, "password": PASSWORD})
    page = client.get("/account/second-factor/")
    assert b"Set up your second factor" in page.content and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    assert client.post("/account/second-factor/", {"code": f"{totp(device.bin_key):06d}"})["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed


def test_a_reset_second_factor_ends_the_members_verified_session(clinic_a: ClinicPeople) -> None:
    officer_session = signed_in_client(clinic_a.compliance)
    assert officer_session.get("/jobs/").status_code == 200
    member_second_factor_reset(actor=clinic_a.admin, member_id=clinic_a.compliance.pk)
    assert officer_session.get("/jobs/")["Location"] == "/account/second-factor/"


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.CLINICIAN, Role.PATIENT])
def test_only_admins_reset_a_second_factor(clinic_a: ClinicPeople, role: str) -> None:
    actor = clinic_a.by_role[role]
    target = clinic_a.admin if role == Role.COMPLIANCE_OFFICER else clinic_a.compliance
    with pytest.raises(ApplicationError) as refused:
        member_second_factor_reset(actor=actor, member_id=target.pk)
    assert refused.value.status == 403
    response = signed_in_client(actor).post(_reset_url(target))
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=target).exists()


def test_another_clinics_member_is_not_found(clinic_a: ClinicPeople, clinic_b: ClinicPeople) -> None:
    admin = signed_in_client(clinic_a.admin)
    assert admin.get(_reset_url(clinic_a.compliance)).status_code == 200  # the same page at home
    for url in (_reset_url(clinic_b.compliance), _deactivate_url(clinic_b.clinician)):
        assert admin.get(url).status_code == 404
        assert admin.post(url).status_code == 404
    assert TOTPDevice.objects.filter(user=clinic_b.compliance).exists()
    assert User.objects.get(pk=clinic_b.clinician.pk).is_active


def test_an_admin_cannot_reset_their_own_second_factor(clinic_a: ClinicPeople) -> None:
    with pytest.raises(ApplicationError, match="your own second factor"):
        member_second_factor_reset(actor=clinic_a.admin, member_id=clinic_a.admin.pk)
    assert TOTPDevice.objects.filter(user=clinic_a.admin).exists()


# --- deactivation ------------------------------------------------------------------------------


def test_a_deactivated_member_can_no_longer_sign_in_or_use_a_session_or_token(
    clinic_a: ClinicPeople,
) -> None:
    clinician = clinic_a.clinician
    session = signed_in_client(clinician)
    api = api_client(clinician)
    admin = signed_in_client(clinic_a.admin)
    confirm = admin.get(_deactivate_url(clinician))
    assert confirm.status_code == 200 and b"Deactivate account" in confirm.content
    assert User.objects.get(pk=clinician.pk).is_active  # the confirmation page changes nothing
    assert admin.post(_deactivate_url(clinician))["Location"] == "/team/"

    assert not User.objects.get(pk=clinician.pk).is_active
    assert session.get("/jobs/")["Location"].startswith("/account/login/")
    assert api.get("/api/v1/jobs/").status_code in (401, 403)
    again = Client().post("/account/login/", {"username": clinician.username, "password": PASSWORD})
    assert again.status_code == 400
    team = admin.get("/team/").content.decode()
    deactivated = team[team.index("Deactivated accounts") :]
    assert clinician.username in deactivated


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.CLINICIAN, Role.PATIENT])
def test_only_admins_deactivate_members(clinic_a: ClinicPeople, role: str) -> None:
    actor = clinic_a.by_role[role]
    target = clinic_a.admin
    with pytest.raises(ApplicationError) as refused:
        member_deactivate(actor=actor, member_id=target.pk)
    assert refused.value.status == 403
    assert signed_in_client(actor).post(_deactivate_url(target)).status_code == 403
    assert User.objects.get(pk=target.pk).is_active


def test_an_admin_cannot_deactivate_themselves(clinic_a: ClinicPeople) -> None:
    admin = signed_in_client(clinic_a.admin)
    response = admin.post(_deactivate_url(clinic_a.admin), follow=True)
    assert b"cannot deactivate your own account" in response.content
    assert User.objects.get(pk=clinic_a.admin.pk).is_active


def test_the_last_active_admin_cannot_be_deactivated(clinic_a: ClinicPeople) -> None:
    second = User.objects.create_user(
        username="alpha-admin-2", password=PASSWORD, clinic=clinic_a.clinic, role=Role.CLINIC_ADMIN
    )
    first = clinic_a.admin
    # Two admins deactivating each other at the same moment: the first wins ...
    member_deactivate(actor=second, member_id=first.pk)
    # ... and the second, acting on what it read before, must not leave the clinic without an admin.
    with pytest.raises(ApplicationError, match="last active admin"):
        member_deactivate(actor=first, member_id=second.pk)
    assert User.objects.get(pk=second.pk).is_active


def test_the_team_page_offers_account_actions_to_admins_only(clinic_a: ClinicPeople) -> None:
    admin_page = signed_in_client(clinic_a.admin).get("/team/").content.decode()
    assert _deactivate_url(clinic_a.clinician) in admin_page
    assert _reset_url(clinic_a.compliance) in admin_page
    assert _deactivate_url(clinic_a.admin) not in admin_page  # not for oneself
    officer_page = signed_in_client(clinic_a.compliance).get("/team/").content.decode()
    assert "/team/members/" not in officer_page


def test_an_unknown_member_action_is_not_found(clinic_a: ClinicPeople) -> None:
    admin = signed_in_client(clinic_a.admin)
    assert admin.get(_deactivate_url(clinic_a.clinician)).status_code == 200
    assert admin.get(f"/team/members/{clinic_a.clinician.pk}/delete/").status_code == 404
    assert admin.post(f"/team/members/{clinic_a.clinician.pk}/delete/").status_code == 404
    assert User.objects.get(pk=clinic_a.clinician.pk).is_active
