"""Password reset by email: Django's one-time, expiring links, the same answer for every address, a
rate limit per address, and no way round the second factor."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from core.models import User
from tests.support import PASSWORD, ClinicPeople, api_client, totp_now

NEW_PASSWORD = "a-brand-new-long-passphrase"


def _with_email(user: User, email: str) -> User:
    user.email = email
    user.save(update_fields=["email"])
    return user


def _request_reset(client: Client, email: str):
    return client.post("/account/password-reset/", {"email": email})


def _link_from_mail() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/)", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(1)


def _set_password(client: Client, link: str, password: str = NEW_PASSWORD):
    landing = client.get(link)
    assert landing.status_code == 302 and landing["Location"].endswith("/set-password/")
    return client.post(landing["Location"], {"new_password1": password, "new_password2": password})


def test_the_sign_in_page_links_to_the_password_reset(db: None) -> None:
    page = Client().get("/account/login/")
    assert b'href="/account/password-reset/"' in page.content
    assert b"Forgot your password?" in page.content


def test_a_member_resets_their_password_with_the_emailed_link(clinic_a: ClinicPeople) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    client = Client()
    response = _request_reset(client, "Clin@Alpha.example")
    assert response["Location"] == "/account/password-reset/sent/"
    assert mail.outbox[0].to == ["clin@alpha.example"]
    done = _set_password(client, _link_from_mail())
    assert done["Location"] == "/account/password-reset/done/"
    clinician.refresh_from_db()
    assert clinician.check_password(NEW_PASSWORD) and not clinician.check_password(PASSWORD)
    signed_in = Client().post("/account/login/", {"username": clinician.username, "password": NEW_PASSWORD})
    assert signed_in["Location"] == "/"


def test_an_unknown_address_gets_the_same_answer_and_no_mail(clinic_a: ClinicPeople) -> None:
    _with_email(clinic_a.clinician, "clin@alpha.example")
    known = _request_reset(Client(), "clin@alpha.example")
    unknown = _request_reset(Client(), "nobody@alpha.example")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1
    sent = Client().get(unknown["Location"])
    assert b"If the address belongs to an account" in sent.content


def test_a_reset_link_works_only_once(clinic_a: ClinicPeople) -> None:
    _with_email(clinic_a.clinician, "clin@alpha.example")
    _request_reset(Client(), "clin@alpha.example")
    link = _link_from_mail()
    assert _set_password(Client(), link)["Location"] == "/account/password-reset/done/"
    again = Client().get(link)
    assert again.status_code == 200 and b"This link does not work" in again.content


def test_a_reset_link_expires_after_an_hour(clinic_a: ClinicPeople, monkeypatch: pytest.MonkeyPatch) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    _request_reset(Client(), "clin@alpha.example")
    link = _link_from_mail()
    later = datetime.now() + timedelta(hours=1, seconds=30)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    late = Client().get(link)
    assert late.status_code == 200 and b"This link does not work" in late.content
    clinician.refresh_from_db()
    assert clinician.check_password(PASSWORD)


def test_a_deactivated_account_gets_no_reset_mail(clinic_a: ClinicPeople) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    User.objects.filter(pk=clinician.pk).update(is_active=False)
    assert _request_reset(Client(), "clin@alpha.example")["Location"] == "/account/password-reset/sent/"
    assert mail.outbox == []


def test_reset_requests_are_rate_limited_per_address(clinic_a: ClinicPeople, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    _with_email(clinic_a.clinician, "clin@alpha.example")
    for _ in range(2):
        assert _request_reset(Client(REMOTE_ADDR="10.0.0.1"), "clin@alpha.example").status_code == 302
    # Another client, same address: still refused, and the answer is the same for unknown addresses.
    blocked = _request_reset(Client(REMOTE_ADDR="10.0.0.2"), "CLIN@alpha.example")
    assert blocked.status_code == 429 and b"Too many attempts" in blocked.content
    assert len(mail.outbox) == 2


def test_a_weak_new_password_is_refused(clinic_a: ClinicPeople) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    client = Client()
    _request_reset(client, "clin@alpha.example")
    refused = _set_password(client, _link_from_mail(), password="12345")
    assert refused.status_code == 400
    clinician.refresh_from_db()
    assert clinician.check_password(PASSWORD)


def test_a_half_signed_in_admin_can_reach_the_reset_pages(clinic_a: ClinicPeople) -> None:
    client = Client()
    client.post("/account/login/", {"username": clinic_a.admin.username, "password": PASSWORD})
    assert client.get("/").status_code == 302  # the second factor is still owed
    assert client.get("/account/password-reset/").status_code == 200


def test_a_reset_does_not_pass_the_second_factor(clinic_a: ClinicPeople) -> None:
    admin = _with_email(clinic_a.admin, "admin@alpha.example")
    client = Client()
    _request_reset(client, "admin@alpha.example")
    _set_password(client, _link_from_mail())
    assert not client.get("/").wsgi_request.user.is_authenticated  # the link signs nobody in
    response = client.post("/account/login/", {"username": admin.username, "password": NEW_PASSWORD})
    assert response["Location"] == "/account/second-factor/"
    assert client.get("/team/")["Location"] == "/account/second-factor/"
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    assert client.post("/account/second-factor/", {"code": totp_now(admin)})["Location"] == "/"


def test_a_reset_ends_old_sessions_and_api_tokens(clinic_a: ClinicPeople) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    old_session = Client()
    old_session.post("/account/login/", {"username": clinician.username, "password": PASSWORD})
    assert old_session.get("/jobs/").status_code == 200
    api = api_client(clinician)
    assert api.get("/api/v1/jobs/").status_code == 200
    client = Client()
    _request_reset(client, "clin@alpha.example")
    _set_password(client, _link_from_mail())
    assert old_session.get("/jobs/")["Location"].startswith("/account/login/")
    # DRF answers 403, not 401, for a refused token: its first authenticator is the session.
    assert api.get("/api/v1/jobs/").status_code == 403
    assert not Token.objects.filter(user=clinician).exists()


def test_the_reset_is_logged_without_the_address(
    clinic_a: ClinicPeople, caplog: pytest.LogCaptureFixture
) -> None:
    clinician = _with_email(clinic_a.clinician, "clin@alpha.example")
    client = Client()
    with caplog.at_level(logging.INFO):
        _request_reset(client, "clin@alpha.example")
        _set_password(client, _link_from_mail())
    events = {r.getMessage(): r for r in caplog.records if r.getMessage().startswith("account.")}
    assert events["account.password_reset_requested"].user_ids == [clinician.pk]  # type: ignore[attr-defined]
    assert events["account.password_reset_completed"].user_id == clinician.pk  # type: ignore[attr-defined]
    assert not any("clin@alpha.example" in str(r.__dict__) for r in caplog.records)
