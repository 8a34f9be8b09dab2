"""Fixtures of the detection engine tests (they run without Django: `pytest -p no:django tests/detection/engine`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from detection_media import SHARED_MEDIA


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The shared real test media; tests that need it skip when it is absent."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(
            f"shared test media not found at {SHARED_MEDIA} (internal evaluation data, not in the repo)"
        )
    return SHARED_MEDIA
