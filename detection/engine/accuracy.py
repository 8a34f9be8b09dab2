"""Each analyzer's measured accuracy, as written to `accuracy.json` by `bench/detection_accuracy.py`.

The product cites these figures next to every score (SPEC §2.6: every figure comes from a command
in the repository, on named data). Regenerate after retraining a model or changing an analyzer::

    .venv/bin/python bench/detection_accuracy.py --write
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from detection.engine.results import Accuracy, Analyzer

TABLE = Path(__file__).resolve().parent / "accuracy.json"


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    if not TABLE.is_file():
        return {}
    data: dict[str, Any] = json.loads(TABLE.read_text(encoding="utf-8"))
    return data


def accuracy_of(analyzer: Analyzer | str) -> Accuracy | None:
    """The stored accuracy of one analyzer, or None if it has not been measured."""
    entry = _table().get("analyzers", {}).get(str(analyzer))
    if not entry:
        return None
    return Accuracy(
        analyzer=str(analyzer),
        summary=str(entry["summary"]),
        figures={k: float(v) for k, v in entry.get("figures", {}).items()},
        data=str(entry.get("data", "")),
        command=str(_table().get("command", "")),
        limits=str(entry.get("limits", "")),
        measured_on=str(_table().get("measured_on", "")),
        notes={k: str(v) for k, v in entry.get("notes", {}).items()},
    )


def all_accuracies() -> dict[str, Accuracy]:
    """Every stored accuracy, by analyzer name."""
    found = {name: accuracy_of(name) for name in _table().get("analyzers", {})}
    return {name: value for name, value in found.items() if value is not None}
