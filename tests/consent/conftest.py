"""Consent test helpers: scopes, intended uses and an active consent."""

from __future__ import annotations

from typing import Any


def scope(**overrides: Any) -> Any:
    from consent.services.likeness import LikenessScope

    values: dict[str, Any] = {
        "topics": ["diabetes", "asthma"],
        "audiences": ["patients"],
        "languages": ["en"],
        "channels": ["portal"],
        "synthetic_voice_allowed": False,
        "max_videos": None,
    }
    values.update(overrides)
    return LikenessScope(**values)


def use(**overrides: Any) -> Any:
    from consent.services.likeness import IntendedUse

    values: dict[str, Any] = {
        "topic": "diabetes",
        "audience": "patients",
        "language": "en",
        "channel": "portal",
        "synthetic_voice": False,
    }
    values.update(overrides)
    return IntendedUse(**values)


def active_consent(clinic: Any, **scope_overrides: Any) -> Any:
    from consent.services.likeness import likeness_consent_sign, likeness_consent_verify_manual
    from tests.support import PASSWORD

    consent = likeness_consent_sign(
        clinician=clinic.clinician, scope=scope(**scope_overrides), password=PASSWORD
    )
    return likeness_consent_verify_manual(actor=clinic.admin, consent_id=consent.id)
