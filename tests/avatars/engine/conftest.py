"""Shared fixtures of the engine tests: one tiny stock render reused by many checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from avatars.engine import Disclosure, RenderResult, RenderSpec, ScriptNarration, StockAvatar, render

LABEL = "AI video, not a real person. Help: 555-0100"
SCRIPT = "Take one tablet every morning. Call us if you feel dizzy."


@pytest.fixture(scope="session")
def disclosure() -> Disclosure:
    return Disclosure(label=LABEL, intro="This video is computer made.", outro="End of computer video.")


@pytest.fixture(scope="session")
def stock_render(
    tmp_path_factory: pytest.TempPathFactory, disclosure: Disclosure
) -> tuple[RenderResult, list[tuple[float, str]]]:
    """A 256x144 stock render with burned-in captions, plus every progress report it made."""
    reports: list[tuple[float, str]] = []
    result = render(
        RenderSpec(
            avatar=StockAvatar(),
            narration=ScriptNarration(SCRIPT),
            disclosure=disclosure,
            output_dir=tmp_path_factory.mktemp("stock"),
            width=256,
            height=144,
            burn_captions=True,
        ),
        progress=lambda fraction, stage: reports.append((fraction, stage)),
    )
    return result, reports


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path
