"""Fixtures shared by the suite. Django is imported lazily, so engine tests run without it
(`pytest -p no:django tests/avatars/engine`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.media_location import SHARED_MEDIA as SHARED_MEDIA  # re-exported for the suite


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not config.pluginmanager.hasplugin("django"):
        return ["candor: Django plugin disabled (engine tests only)"]
    from django.conf import settings

    db = settings.DATABASES["default"]
    source = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded default"
    return [
        f"candor database: {db['ENGINE'].rsplit('.', 1)[-1]} ({source})",
        f"candor broker/channel layer: {'redis' if settings.REDIS_URL else 'in-memory (no REDIS_URL)'}",
    ]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Every skip for want of ../shared/media says how to provide it (CANDOR_SHARED_MEDIA)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        from tests.media_location import skip_reason_with_how_to

        path, line, message = report.longrepr
        report.longrepr = (path, line, skip_reason_with_how_to(message))


@pytest.fixture(autouse=True)
def _django_isolation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """Per test: media files in a temporary folder and an empty cache (rate limits start afresh)."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from django.core.cache import cache

    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    uses_db = transactional or marker is not None or "db" in request.fixturenames
    if not uses_db:
        yield
        return
    from django.db import connection

    from consent.ledger import ledger_tree_reset
    from consent.triggers import install, uninstall

    # Set the database up first, so it is torn down after this fixture.
    request.getfixturevalue("transactional_db" if transactional else "db")
    install(connection)  # a previous transactional test lifted them for its flush
    ledger_tree_reset()
    yield
    ledger_tree_reset()
    if transactional:
        # The flush that empties the database after a transactional test deletes ledger rows, which
        # the triggers refuse; lift them for that flush only (the next test installs them again).
        uninstall(connection)


@pytest.fixture
def clinic_a(db: None) -> Any:
    from tests.support import ClinicPeople

    return ClinicPeople("alpha")


@pytest.fixture
def clinic_b(db: None) -> Any:
    from tests.support import ClinicPeople

    return ClinicPeople("beta")


@pytest.fixture
def texts(clinic_a: Any, clinic_b: Any) -> Any:
    """Both clinics with their default consent texts and disclosure label published."""
    from consent.defaults import consent_defaults_ensure

    consent_defaults_ensure(actor=clinic_a.admin)
    consent_defaults_ensure(actor=clinic_b.admin)
    return clinic_a


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second 160x96 H.264 + AAC clip with moving texture and a tone."""
    from core.demo import demo_video_write

    return demo_video_write(tmp_path_factory.mktemp("media") / "tiny.mp4", seconds=2.0, width=160, height=96)
