"""Skips for want of the shared media say how to provide it (issue 15 item 18)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_media_skip_names_the_environment_variable_when_the_media_is_elsewhere(tmp_path: Path) -> None:
    test = tmp_path / "test_needs_media.py"
    test.write_text(
        "import pytest\n"
        "from tests.media_location import SHARED_MEDIA\n"
        "def test_media():\n"
        "    if not SHARED_MEDIA.is_dir():\n"
        "        pytest.skip(f'{SHARED_MEDIA} is absent')\n"
    )
    env = {"CANDOR_SHARED_MEDIA": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-p", "tests.conftest", "-rs", "-q",
         "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), str(test)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "1 skipped" in done.stdout, done.stdout + done.stderr
    assert "set CANDOR_SHARED_MEDIA" in done.stdout and str(tmp_path / "nowhere") in done.stdout


def test_the_media_folder_can_be_moved_with_the_environment_variable(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from tests.media_location import SHARED_MEDIA; print(SHARED_MEDIA)"],
        cwd=ROOT, env={"CANDOR_SHARED_MEDIA": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == str(tmp_path)
