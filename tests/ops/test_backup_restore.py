"""The backup and restore drill: a clinic's data backed up, restored into an empty database and an
empty storage by another process, the ledger verified, and a published video still verifying as the
clinic's signed, consented content.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from consent.models import LedgerEntry

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def empty_database() -> Any:
    """A new, empty PostgreSQL database on the same server, dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("the drill restores with pg_restore; run the suite with DATABASE_URL on PostgreSQL")
    import psycopg

    settings_dict = connection.settings_dict
    name = f"candor_restore_{uuid.uuid4().hex[:8]}"
    params = {
        key: value
        for key, value in {
            "host": settings_dict.get("HOST"),
            "port": settings_dict.get("PORT"),
            "user": settings_dict.get("USER"),
            "password": settings_dict.get("PASSWORD"),
        }.items()
        if value
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    yield f"postgres://{user}{password}@{host}:{port}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_an_empty_database_and_storage_and_still_verifies(
    texts: Any, django_capture_on_commit_callbacks: Any, empty_database: str, tmp_path: Path
) -> None:
    from django.core.files.storage import default_storage

    from avatars.services import video_publish, video_review
    from consent.ledger import ledger_sign_head
    from tests.avatars.test_studio import _stock_video

    video = _stock_video(texts, django_capture_on_commit_callbacks)
    video_review(actor=texts.clinician, video_id=video.id, approve=True)
    video_publish(actor=texts.clinician, video_id=video.id, patient_ids=[texts.patient.pk])
    assert ledger_sign_head() is not None
    entries = LedgerEntry.objects.count()
    published = tmp_path / "published.mp4"
    published.write_bytes(default_storage.open(video.video_key, "rb").read())

    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == "postgresql" and manifest["media"]["files"] >= 3
    assert "ledger-ed25519.pem" in manifest["keys"] and "provenance" in manifest["keys"]

    # Another machine: its own empty database and var folder, the same settings module.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": empty_database,
        "CANDOR_VAR_DIR": str(tmp_path / "restored-var"),
    }
    restored = _manage("restore", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert f"OK: {entries} entries" in restored.stdout
    # The restored tables have planner statistics, so the ledger's pages use its index at once.
    import psycopg

    with psycopg.connect(empty_database) as restored_db:
        analyzed = restored_db.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'consent_ledgerentry'"
        ).fetchone()
    assert analyzed is not None and analyzed[0] is not None

    check = (
        "import json; from pathlib import Path; from provenance.services import media_verify; "
        f"o = media_verify(Path({str(published)!r})); "
        "print(json.dumps({'state': o.manifest_state, 'consent': o.consent_active, 'clinic': o.clinic_name}))"
    )
    verified = _manage("shell", "-c", check, env=env)
    assert verified.returncode == 0, verified.stderr
    outcome = json.loads(verified.stdout.strip().splitlines()[-1])
    assert outcome == {"state": "Trusted", "consent": True, "clinic": texts.clinic.name}


def test_a_restore_over_existing_data_is_refused(tmp_path: Path, db: None) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1}))
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(tmp_path))


def test_a_folder_that_is_not_a_backup_is_refused(tmp_path: Path, db: None) -> None:
    with pytest.raises(CommandError, match="not a Candor backup"):
        call_command("restore", str(tmp_path))
