"""The statement check's manipulation step runs the analyzers the scanner registers (the studio never
imports the scanner, which sits above it in the app layers); with none registered it fails closed:
the statement waits for a clinic admin with the reason, never passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avatars.services import statement as statement_service
from avatars.services import statement_manipulation
from avatars.services.statement_manipulation import (
    NO_ANALYZER_REASON,
    AnalyzerFinding,
    statement_analyzer_register,
    statement_manipulation_check,
)
from core.models import MediaJob
from detection.services.statement_analysis import statement_manipulation_analyze
from tests.avatars.test_statement_decision import _live_statement, _verdicts


def _finding(*, flagged: bool) -> AnalyzerFinding:
    return {
        "score": 0.9 if flagged else 0.1,
        "threshold": 0.5,
        "flagged": flagged,
        "skipped": None,
        "evidence": [],
    }


@pytest.fixture
def no_analyzers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    registered: list[Any] = []
    monkeypatch.setattr(statement_manipulation, "_analyzers", registered)
    return registered


def test_the_scanner_registers_its_analyzers_when_the_apps_are_ready() -> None:
    assert statement_manipulation_analyze in statement_manipulation._analyzers


def test_registered_analyzers_run_on_the_statement(tmp_path: Path, no_analyzers: list[Any]) -> None:
    seen: list[Path] = []

    def lip_sync(path: Path) -> dict[str, AnalyzerFinding]:
        seen.append(path)
        return {"lip_sync": _finding(flagged=False)}

    statement_analyzer_register(lip_sync)
    statement_analyzer_register(lip_sync)  # registering again changes nothing
    result = statement_manipulation_check(tmp_path / "statement.mp4")
    assert seen == [tmp_path / "statement.mp4"]
    assert result == {"passed": True, "analyzers": {"lip_sync": _finding(flagged=False)}}


def test_one_flagging_analyzer_fails_the_step(tmp_path: Path, no_analyzers: list[Any]) -> None:
    statement_analyzer_register(lambda path: {"lip_sync": _finding(flagged=False)})
    statement_analyzer_register(lambda path: {"synthetic_speech": _finding(flagged=True)})
    result = statement_manipulation_check(tmp_path / "statement.mp4")
    assert result["passed"] is False and set(result["analyzers"]) == {"lip_sync", "synthetic_speech"}


def test_without_a_registered_analyzer_the_step_fails_closed(tmp_path: Path, no_analyzers: list[Any]) -> None:
    result = statement_manipulation_check(tmp_path / "statement.mp4")
    assert result == {"passed": False, "analyzers": {}, "reason": NO_ANALYZER_REASON}


def test_without_a_registered_analyzer_a_live_statement_waits_for_an_admin_with_the_reason(
    studio: Any,
    tiny_video: Path,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    no_analyzers: list[Any],
) -> None:
    _verdicts(monkeypatch, failing=None)  # every other check passes
    monkeypatch.setattr(statement_service, "_manipulation_check", statement_manipulation_check)
    consent = _live_statement(studio, tiny_video, django_capture_on_commit_callbacks)
    assert consent.status == "awaiting_verification"
    assert consent.statement_checks["manipulation"] == {
        "passed": False,
        "analyzers": {},
        "reason": NO_ANALYZER_REASON,
    }
    job = MediaJob.objects.filter(kind="statement_check", params__consent=str(consent.id)).latest(
        "created_at"
    )
    assert job.result["passed"] is False and job.result["reasons"] == [NO_ANALYZER_REASON]
