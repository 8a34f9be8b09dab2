"""The consent app's part of the demo clinic: its starting texts and label, and a signed tree head."""

from __future__ import annotations

from collections.abc import Sequence

from consent.defaults import consent_defaults_ensure
from consent.ledger import ledger_sign_head
from core.demo import SeededPerson, demo_user
from core.models import Clinic, Role


def consent_demo_seed(clinic: Clinic, people: Sequence[SeededPerson]) -> None:
    """Publish the default consent texts and disclosure label, as the clinic admin, where missing."""
    consent_defaults_ensure(actor=demo_user(people, Role.CLINIC_ADMIN))


def consent_demo_finish(clinic: Clinic, people: Sequence[SeededPerson]) -> None:
    """Sign a tree head over every entry the apps appended while seeding, so the demo's log is covered."""
    ledger_sign_head()
