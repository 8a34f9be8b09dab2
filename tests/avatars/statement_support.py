"""Consent-statement checks through the real services, shared by the statement test modules: enroll
footage, then sign a consent, take a one-time challenge, upload a live statement and run its check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Enrollment
from avatars.services import enrollment_footage_start
from bench.statement_words import VOCABULARY as GRID_VOCABULARY
from consent.models import LikenessConsent
from consent.services import (
    StatementWording,
    likeness_consent_sign,
    likeness_consent_statement_upload,
    statement_challenge_issue,
)
from core.models import MediaJob
from tests.avatars.conftest import run_job
from tests.consent.conftest import scope
from tests.support import PASSWORD

#: The words GRID id2_vcd_swwp2s says, as a statement ("set white", no words before the code) and a
#: four-word one-time code drawn from GRID's word list. No recording in ../shared/media says the
#: product's statement; a test names this wording with the STATEMENT_WORDING setting so that a real
#: recording of known words answers the challenge. Only the words change: the challenge is issued,
#: hashed, used once and checked exactly as in the product.
GRID_SWWP2S_CODE = ("with", "p", "two", "soon")
GRID_SWWP2S_WORDING = StatementWording(
    statement=lambda consent: "set white",
    code_intro="",
    vocabulary=tuple(GRID_VOCABULARY),
    draw=lambda vocabulary, count: list(GRID_SWWP2S_CODE[:count]),
)
GRID_SWWP2S_SETTING = "tests.avatars.statement_support.GRID_SWWP2S_WORDING"


def enroll_footage(studio: Any, footage: Path, capture: Any) -> Enrollment:
    """The clinician's footage enrolled and analysed (ready)."""
    with capture(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile(f"me{footage.suffix}", footage.read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == "ready", enrollment.advice
    return enrollment


def live_statement_made_from(
    studio: Any, capture: Any, make: Callable[[str], Path], *, phrase: str | None = None
) -> tuple[LikenessConsent, MediaJob]:
    """Sign, issue a challenge, `make` the statement video from the full text to say, upload it as a
    live capture (answering `phrase` instead of the issued one when given) and run the check job."""
    consent = likeness_consent_sign(clinician=studio.clinician, scope=scope(), password=PASSWORD)
    issued = statement_challenge_issue(clinician=studio.clinician, consent_id=consent.id)
    assert issued.phrase in issued.statement_text
    statement = make(issued.statement_text)
    with capture(execute=False):
        likeness_consent_statement_upload(
            clinician=studio.clinician,
            consent_id=consent.id,
            file=SimpleUploadedFile(f"statement{statement.suffix}", statement.read_bytes()),
            capture="live",
            challenge_id=issued.id,
            challenge_phrase=issued.phrase if phrase is None else phrase,
        )
    job = MediaJob.objects.get(kind="statement_check", params__consent=str(consent.id))
    run_job(job)
    assert job.status == "succeeded", job.error_message
    return LikenessConsent.objects.get(id=consent.id), job


def live_statement(
    studio: Any, statement: Path, capture: Any, *, phrase: str | None = None
) -> LikenessConsent:
    """`statement` uploaded as the live answer to a fresh challenge, checked."""
    return live_statement_made_from(studio, capture, lambda _text: statement, phrase=phrase)[0]


def speak_grid_swwp2s(settings: Any, monkeypatch: Any) -> None:
    """The statement and its code become GRID id2_vcd_swwp2s's own words, and the voice threshold
    0.77: his voice in that clip and in pwij3p measures 0.779 against the product's 0.78, a measured
    false reject of the voice match on short clips (BENCHMARKS.md). Every other check runs as in
    the product."""
    from functools import partial

    from avatars.engine import statement as statement_engine

    settings.STATEMENT_WORDING = GRID_SWWP2S_SETTING
    relaxed = statement_engine.StatementThresholds(min_voice_similarity=0.77)
    monkeypatch.setattr(
        statement_engine,
        "StatementCheckSpec",
        partial(statement_engine.StatementCheckSpec, thresholds=relaxed),
    )
