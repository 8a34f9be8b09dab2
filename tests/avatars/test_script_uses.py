"""Issue 15 item 4: a script's topic, audience, language and channel are chosen from what the
presenter's consent allows, and the server refuses anything else, so an out-of-scope render
cannot even be requested by accident."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus, Script
from avatars.services import enrollment_stock_get_or_create
from tests.consent.conftest import active_consent
from tests.support import signed_in_client

TEXT = "Check your blood sugar before breakfast. Call us if it is above the range we agreed."


def _options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select for {name}"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


@pytest.fixture
def portrait(studio: Any) -> Enrollment:
    """A ready likeness of the clinician (the kind does not matter to the form)."""
    return Enrollment.objects.create(
        clinic=studio.clinic,
        clinician=studio.clinician,
        kind=EnrollmentKind.PORTRAIT,
        status=EnrollmentStatus.READY,
        created_by=studio.clinician,
    )


def _post(client: Any, enrollment: Enrollment, **fields: str) -> Any:
    data = {
        "enrollment": str(enrollment.id),
        "title": "Inhaler technique",
        "topic": "asthma",
        "audience": "patients",
        "language": "en",
        "channel": "portal",
        "text": TEXT,
        "narration_source": "tts",
    }
    data.update(fields)
    return client.post("/studio/scripts/new/", data)


def test_the_form_offers_only_what_the_presenters_consent_allows(studio: Any, portrait: Enrollment) -> None:
    active_consent(studio, topics=["asthma"], audiences=["caregivers"], channels=["waiting-room"])
    page = signed_in_client(studio.clinician).get("/studio/scripts/new/").content.decode()
    # The likeness comes first in the list here, so its lists are the ones rendered.
    assert _options(page, "enrollment")[0] == str(portrait.id)
    assert _options(page, "topic") == ["asthma"]
    assert _options(page, "audience") == ["caregivers"]
    assert _options(page, "channel") == ["waiting-room"]
    assert ">Waiting room<" in page and ">English<" in page  # codes read as words


def test_the_stock_presenter_offers_the_clinics_whole_vocabulary(studio: Any, portrait: Enrollment) -> None:
    active_consent(studio, topics=["asthma", "hypertension"])
    stock = enrollment_stock_get_or_create(actor=studio.clinician)
    client = signed_in_client(studio.clinician)
    page = client.get("/studio/scripts/new/").content.decode()
    options = re.search(r'<script id="use-options" type="application/json">(.*?)</script>', page, re.S)
    assert options
    uses = json.loads(options.group(1))
    stock_topics = [code for code, _ in uses[str(stock.id)]["topic"]]
    assert {"hypertension", "asthma", "diabetes", "vaccination"} <= set(stock_topics)
    assert [code for code, _ in uses[str(portrait.id)]["topic"]] == ["asthma", "hypertension"]
    saved = _post(client, stock, topic="vaccination", audience="caregivers", channel="waiting-room")
    assert saved.status_code == 302
    assert Script.objects.get(title="Inhaler technique").topic == "vaccination"


def test_an_out_of_scope_use_is_refused_and_nothing_is_saved(studio: Any, portrait: Enrollment) -> None:
    active_consent(studio, topics=["asthma"])
    client = signed_in_client(studio.clinician)
    for field, value in (("topic", "diabetes"), ("channel", "tv"), ("language", "es")):
        refused = _post(client, portrait, **{field: value})
        assert refused.status_code == 400, field
        assert "consent" in refused.content.decode()
        assert 'value="Inhaler technique"' in refused.content.decode()  # the input is kept
    assert not Script.objects.exists()
    assert _post(client, portrait).status_code == 302


def test_a_presenter_without_an_active_consent_is_marked_and_refused(
    studio: Any, portrait: Enrollment
) -> None:
    client = signed_in_client(studio.clinician)
    page = client.get("/studio/scripts/new/").content.decode()
    assert "(no active likeness consent)" in page
    refused = _post(client, portrait)
    assert refused.status_code == 400
    assert "has no active likeness consent" in refused.content.decode()
    assert not Script.objects.exists()


def test_a_new_script_asks_for_approval_not_approval_again(studio: Any, portrait: Enrollment) -> None:
    """Issue 15 item 17: a brand-new script said "It needs the clinician's approval again"."""
    active_consent(studio, topics=["asthma"])
    client = signed_in_client(studio.clinician)
    page = client.get(_post(client, portrait)["Location"]).content.decode()
    assert "again" not in page and "approve it below" in page
