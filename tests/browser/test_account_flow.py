"""A member resets a forgotten password from the emailed link; a clinic admin resets a member's
second factor (who then enrols a new authenticator) and deactivates another member."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import User
from tests.browser.conftest import ARTIFACTS
from tests.support import PASSWORD, ClinicPeople, totp_now

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-brand-new-long-passphrase"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}


def _shoot(page: Any, name: str) -> None:
    """The page at desktop and phone widths."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _sign_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_password_reset_then_admin_resets_a_second_factor_and_deactivates_a_member(
    clinic_a: ClinicPeople, live_server_url: str, browser_page: Any
) -> None:
    page, base = browser_page, live_server_url
    clinician = clinic_a.clinician
    User.objects.filter(pk=clinician.pk).update(email="clin@alpha.example")

    # A member who forgot their password asks for a link, reads the mail and sets a new one.
    page.goto(f"{base}/account/login/")
    _shoot(page, "account-sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    _shoot(page, "account-reset-request")
    page.get_by_label("Email address of your account").fill("clin@alpha.example")
    page.get_by_role("button", name="Send reset link").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()
    _shoot(page, "account-reset-sent")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["clin@alpha.example"]
    link = re.search(r"https?://\S+/account/password-reset/\S+/", mail.outbox[0].body)
    assert link and link.group(0).startswith(base)
    page.goto(link.group(0))
    assert page.get_by_role("heading", name="Set a new password").is_visible()
    assert "/set-password/" in page.url  # the token left the address bar (no Referer leak)
    _shoot(page, "account-reset-set")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    assert page.get_by_role("heading", name="Your password is set").is_visible()
    _shoot(page, "account-reset-done")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
    assert clinician.printed_name in page.locator(".who").inner_text()
    page.get_by_role("button", name="Sign out").click()

    # The admin resets the compliance officer's second factor, with a confirmation step.
    officer, patient = clinic_a.compliance, clinic_a.patient
    _sign_in(page, base, clinic_a.admin.username)
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(clinic_a.admin))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("link", name="Team").click()
    assert page.get_by_label("Role").input_value() == "patient"  # invitations start least-privileged
    _shoot(page, "account-team")
    page.get_by_role("link", name=f"Reset second factor of {officer.printed_name}").click()
    _shoot(page, "account-confirm-second-factor-reset")
    assert TOTPDevice.objects.filter(user=officer).exists()
    page.get_by_role("button", name="Reset second factor").click()
    assert "will set up a new authenticator" in page.locator(".messages").inner_text()
    assert not TOTPDevice.objects.filter(user=officer).exists()

    # ... and deactivates the patient, who is then listed apart and cannot sign in.
    page.get_by_role("link", name=f"Deactivate {patient.printed_name}").click()
    _shoot(page, "account-confirm-deactivate")
    page.get_by_role("button", name="Deactivate account").click()
    assert "can no longer sign in" in page.locator(".messages").inner_text()
    assert patient.username in page.get_by_role("table").last.inner_text()
    _shoot(page, "account-team-after")
    assert not User.objects.get(pk=patient.pk).is_active
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, base, patient.username)
    assert "Wrong username or password" in page.locator(".error-box").inner_text()

    # The officer meets a fresh QR code at the next sign-in and enrols a new authenticator.
    _sign_in(page, base, officer.username)
    assert page.get_by_role("heading", name="Set up your second factor").is_visible()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    _shoot(page, "account-second-factor-enrol")
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    page.get_by_label("6-digit code from your authenticator app").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base}/")
    device.refresh_from_db()
    assert device.confirmed
