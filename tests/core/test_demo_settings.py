"""The demo (config.settings.local) looks like the product and keeps its conveniences.

Issue 15 item 14: unknown addresses in the demo showed Django's debug 404 listing every URL pattern,
and the printed `python manage.py totp_code` failed outside the virtualenv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]


def _local_settings(tmp_path: Path, **env: str) -> dict[str, object]:
    script = (
        "import sys, json; sys.path[:0] = ['platform', '.']\n"
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "print(json.dumps({'debug': settings.DEBUG, 'demo': getattr(settings, 'CANDOR_DEMO', False)}))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL")}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings.local", CANDOR_VAR_DIR=str(tmp_path), **env)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_demo_runs_without_debug_pages_unless_asked(tmp_path: Path) -> None:
    assert _local_settings(tmp_path) == {"debug": False, "demo": True}
    assert _local_settings(tmp_path, DJANGO_DEBUG="True")["debug"] is True


@pytest.mark.django_db
def test_totp_code_is_refused_outside_the_demo() -> None:
    with pytest.raises(CommandError, match="local demo only"):
        call_command("totp_code", "anyone")


def test_django_log_records_are_printed_once_through_the_json_handler() -> None:
    """Django's own console handler (active under DEBUG) printed every request a second time."""
    import logging

    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate
