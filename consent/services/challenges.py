"""One-time challenge phrases for live consent statements, and the statement's expected words.

A clinician recording a consent statement live reads the statement and a phrase of random words
the platform chose seconds before. A recording made earlier (the enrollment footage, an older
statement, a deepfake prepared in advance) cannot contain a phrase nobody knew yet. The phrase is
shown once, stored only as a keyed hash, valid for `STATEMENT_CHALLENGE_MINUTES`, bound to one
clinician and one consent, and used up by the first statement that names it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from consent.challenge_words import CHALLENGE_WORDS
from consent.errors import ConsentErrorCode
from consent.models import LikenessConsent, LikenessStatus, StatementChallenge
from consent.policy import can_give_likeness_consent, require
from consent.services._common import get_for_update, refuse
from core.models import User

CHALLENGE_LENGTH = 4


class ChallengeStatus(StrEnum):
    """What became of the challenge a statement named."""

    VALID = "valid"
    MISSING = "missing"  # no challenge named (an uploaded file, or a live capture without one)
    UNKNOWN = "unknown"  # no such challenge for this clinician and consent
    EXPIRED = "expired"
    REUSED = "reused"
    WRONG_PHRASE = "wrong_phrase"  # the phrase sent back is not the one issued


@dataclass(frozen=True)
class IssuedChallenge:
    """A challenge as shown to the clinician, once: the phrase is never stored in clear."""

    id: Any
    phrase: str
    expires_at: Any
    statement_text: str


def _phrase_hmac(challenge_id: Any, phrase: str) -> str:
    normalised = " ".join(phrase.lower().split())
    message = f"{challenge_id}:{normalised}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _product_statement(consent: LikenessConsent) -> str:
    topics = ", ".join(consent.topics) if consent.topics else "the topics I chose"
    clinician = consent.clinician
    return (
        f"I, {clinician.printed_name}, consent to {clinician.member_clinic.name} making videos with my "
        f"likeness about {topics}."
    )


def _random_draw(vocabulary: Sequence[str], count: int) -> list[str]:
    return [secrets.choice(vocabulary) for _ in range(count)]


@dataclass(frozen=True)
class StatementWording:
    """What a live statement asks the clinician to say: the sentence, the words that introduce the
    code, the words a code is drawn from (the word check recognises each code word among them) and
    how a code is drawn.

    The product has one wording, `PRODUCT_WORDING`. The `STATEMENT_WORDING` setting names it; only a
    settings module (code, never a request or the environment) can name another, which the browser
    test does so that a real recording of known words can answer the challenge (issue 12)."""

    statement: Callable[[LikenessConsent], str]
    code_intro: str
    vocabulary: tuple[str, ...]
    draw: Callable[[Sequence[str], int], list[str]]


PRODUCT_WORDING = StatementWording(
    statement=_product_statement, code_intro="My code is", vocabulary=CHALLENGE_WORDS, draw=_random_draw
)


def statement_wording() -> StatementWording:
    """The wording the `STATEMENT_WORDING` setting names (the product's unless a test says otherwise)."""
    wording = import_string(settings.STATEMENT_WORDING)
    assert isinstance(wording, StatementWording), settings.STATEMENT_WORDING
    return wording


def statement_text(consent: LikenessConsent) -> str:
    """The sentence the clinician says: who they are, who may use their likeness and for what."""
    return statement_wording().statement(consent)


def statement_prefix(consent: LikenessConsent) -> str:
    """Everything the clinician says before the code: the statement and the code's introduction."""
    return " ".join(part for part in (statement_text(consent), statement_wording().code_intro) if part)


def statement_expected_text(consent: LikenessConsent, phrase: str) -> str:
    """The statement followed by the challenge phrase, as the word check expects to hear it."""
    return f"{statement_prefix(consent)} {phrase}."


def statement_phrase_of(consent: LikenessConsent) -> str:
    """The challenge phrase a consent's statement was asked to contain ("" without a valid one)."""
    text = consent.statement_expected_text.rstrip(".").strip()
    intro = statement_wording().code_intro
    if intro:
        marker = f" {intro} "
        return text.rsplit(marker, 1)[1].strip() if marker in text else ""
    prefix = statement_text(consent)
    return text[len(prefix) :].strip() if text.startswith(prefix) else ""


def statement_challenge_issue(*, clinician: User, consent_id: Any) -> IssuedChallenge:
    """A fresh challenge for the clinician's consent that awaits its statement."""
    require(can_give_likeness_consent(clinician))
    with transaction.atomic():
        consent = get_for_update(
            LikenessConsent, clinic_id=clinician.clinic_id, object_id=consent_id, clinician=clinician
        )
        if consent.status != LikenessStatus.AWAITING_VERIFICATION:
            raise refuse(
                "A statement can only be recorded while the consent awaits verification.",
                ConsentErrorCode.INVALID_TRANSITION,
            )
        wording = statement_wording()
        words = wording.draw(wording.vocabulary, CHALLENGE_LENGTH)
        phrase = " ".join(words)
        challenge = StatementChallenge(
            clinic_id=clinician.member_clinic_id,
            clinician=clinician,
            consent=consent,
            word_count=len(words),
            expires_at=timezone.now() + timedelta(minutes=settings.STATEMENT_CHALLENGE_MINUTES),
        )
        challenge.phrase_hmac = _phrase_hmac(challenge.id, phrase)
        challenge.save()
    return IssuedChallenge(
        id=challenge.id,
        phrase=phrase,
        expires_at=challenge.expires_at,
        statement_text=statement_expected_text(consent, phrase),
    )


@dataclass(frozen=True)
class ChallengeUse:
    """The outcome of naming a challenge in a statement; `phrase` only when it was valid."""

    status: ChallengeStatus
    challenge: StatementChallenge | None = None
    phrase: str = ""


def statement_challenge_use(
    *, clinician: User, consent: LikenessConsent, challenge_id: Any, phrase: str
) -> ChallengeUse:
    """Use up the named challenge (a conditional UPDATE: of two statements naming it, one wins).

    Never raises for a bad challenge: the statement is kept and held for manual verification,
    with the reason, so a clinician who took too long is not left without evidence on file.
    """
    if not challenge_id:
        return ChallengeUse(ChallengeStatus.MISSING)
    try:
        challenge = StatementChallenge.objects.get(
            id=challenge_id, clinician=clinician, consent=consent, clinic_id=clinician.member_clinic_id
        )
    except (StatementChallenge.DoesNotExist, ValidationError, ValueError):
        # ValidationError: the id is not a UUID at all.
        return ChallengeUse(ChallengeStatus.UNKNOWN)
    now = timezone.now()
    claimed = StatementChallenge.objects.filter(id=challenge.id, used_at__isnull=True).update(used_at=now)
    if not claimed:
        return ChallengeUse(ChallengeStatus.REUSED, challenge)
    if challenge.expires_at <= now:
        return ChallengeUse(ChallengeStatus.EXPIRED, challenge)
    if not hmac.compare_digest(challenge.phrase_hmac, _phrase_hmac(challenge.id, phrase)):
        return ChallengeUse(ChallengeStatus.WRONG_PHRASE, challenge)
    return ChallengeUse(ChallengeStatus.VALID, challenge, " ".join(phrase.lower().split()))
