"""The scanner's manipulation analyzers on a consent statement, for the studio's statement check.

Registered with `avatars.services.statement_manipulation` by `detection.registration.register`:
the studio, below the scanner in the app layers, runs them without importing the scanner.
"""

from __future__ import annotations

from pathlib import Path

from avatars.services.statement_manipulation import AnalyzerFinding
from detection.engine import MANIPULATION_ANALYZERS, ScanSpec, scan

#: A statement is a short recording; anything longer is read only this far.
STATEMENT_MAX_SECONDS = 120.0


def statement_manipulation_analyze(statement: Path) -> dict[str, AnalyzerFinding]:
    """The manipulation analyzers' findings on one statement (evidence: the first six items each)."""
    result = scan(
        ScanSpec(path=statement, analyzers=MANIPULATION_ANALYZERS, max_seconds=STATEMENT_MAX_SECONDS)
    )
    return {
        r.name: {
            "score": round(r.score, 3),
            "threshold": round(r.threshold, 3),
            "flagged": r.flagged,
            "skipped": r.skipped,
            "evidence": [
                {
                    "note": e.note,
                    "start": round(e.time_range.start, 2) if e.time_range else None,
                    "end": round(e.time_range.end, 2) if e.time_range else None,
                }
                for e in r.evidence[:6]
            ],
        }
        for r in result.results
    }
