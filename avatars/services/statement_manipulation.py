"""The consent statement check's manipulation step, run by analyzers another app registers.

The analyzers are the impersonation scanner's (visual manipulation, lip-sync, identity drift,
blending flicker, synthetic speech). The scanner sits above the studio in the app layers
(docs/architecture.md, rule 6), so the studio never imports it: the detection app registers a
`StatementAnalyzer` here from its `register()` (called by `DetectionConfig.ready`), as the studio
registers its "does this output still stand?" check with provenance.

Without a registered analyzer the step fails closed: the statement is never passed unchecked, it
waits for a clinic admin with the reason saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict


class AnalyzerEvidence(TypedDict):
    """One piece of an analyzer's evidence: what it saw and where (seconds), if anywhere."""

    note: str
    start: float | None
    end: float | None


class AnalyzerFinding(TypedDict):
    """One analyzer's finding on a statement, as stored with the consent's checks."""

    score: float
    threshold: float
    flagged: bool
    skipped: str | None
    evidence: list[AnalyzerEvidence]


#: Runs the manipulation analyzers on a statement recording: their findings by analyzer name.
StatementAnalyzer = Callable[[Path], dict[str, AnalyzerFinding]]

#: Why a statement waits when no analyzer is registered (shown to the clinic admin who verifies it).
NO_ANALYZER_REASON = (
    "The manipulation analyzers are not available on this server; a clinic admin verifies the "
    "statement by hand."
)

_analyzers: list[StatementAnalyzer] = []


def statement_analyzer_register(analyzer: StatementAnalyzer) -> None:
    """Add the app's manipulation analyzer (registering it again changes nothing)."""
    if analyzer not in _analyzers:
        _analyzers.append(analyzer)


def statement_manipulation_check(statement: Path) -> dict[str, Any]:
    """Every registered analyzer on `statement`: passed when at least one ran and none flagged it."""
    if not _analyzers:
        return {"passed": False, "analyzers": {}, "reason": NO_ANALYZER_REASON}
    findings: dict[str, AnalyzerFinding] = {}
    for analyzer in _analyzers:
        findings.update(analyzer(statement))
    return {"passed": not any(f["flagged"] for f in findings.values()), "analyzers": findings}
