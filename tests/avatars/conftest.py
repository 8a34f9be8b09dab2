"""Studio fixtures: a clinic with texts, the stock presenter, and helpers to run jobs in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.media_location import SHARED_MEDIA

GRID = SHARED_MEDIA / "talking" / "grid"


def run_job(job: Any) -> None:
    """Run a job's task in this process, as a worker would."""
    from core.job_kinds import job_kind_get

    job_kind_get(job.kind).task(str(job.id))
    job.refresh_from_db()


@pytest.fixture
def studio(texts: Any, django_capture_on_commit_callbacks: Any) -> Any:
    return texts


def grid_clip(name: str = "bbaf2n.mpg") -> Path:
    path = GRID / name
    if not path.exists():
        pytest.skip(
            f"{path} is absent (../shared/media is for internal evaluation and not in every checkout)"
        )
    return path
