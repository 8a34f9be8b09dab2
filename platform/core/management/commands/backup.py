"""Back up everything a restore needs into one folder: the database, the stored media and the keys.

    manage.py backup /backups/candor-2026-12-01

writes `database.dump` (PostgreSQL, `pg_dump --format=custom`) or `database.sqlite3` (the embedded
default, through SQLite's online backup), `media/` (a copy of local media storage), `keys/` (the
ledger's signing key and the provenance keys, when they live in files) and `manifest.json` (what is
in it, with SHA-256 sums). On S3 the media stay in the bucket (use bucket versioning or replication;
the manifest says so). The folder holds secrets: keep it encrypted and access-controlled.
`manage.py restore` reads it back into an empty database and storage.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from core.media.hashing import file_sha256

FORMAT_VERSION = 1


def pg_environment(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments for pg_dump/pg_restore (the password goes in the environment)."""
    args = ["--dbname", str(settings_dict["NAME"])]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    env = {"PGPASSWORD": str(settings_dict["PASSWORD"])} if settings_dict.get("PASSWORD") else {}
    return args, env


def key_locations() -> dict[str, Path]:
    """The key files and folders a restore needs, by their name in the backup."""
    return {
        "ledger-ed25519.pem": Path(settings.LEDGER_SIGNING_KEY_PATH),
        "provenance": Path(settings.PROVENANCE_KEY_DIR),
    }


class Command(BaseCommand):
    help = "Back up the database, local media storage and key files into a new folder."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("destination", type=Path)

    def handle(self, *args: Any, destination: Path, **options: Any) -> None:
        if destination.exists() and any(destination.iterdir()):
            raise CommandError(f"{destination} is not empty; back up into a new folder.")
        destination.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "created_at": timezone.now().isoformat(),
            "database": self._database(destination),
            "media": self._media(destination),
            "keys": self._keys(destination),
        }
        (destination / "manifest.json").write_text(json.dumps(manifest, indent=2))
        self.stdout.write(f"Backed up to {destination}")

    def _database(self, destination: Path) -> dict[str, Any]:
        vendor = connection.vendor
        if vendor == "postgresql":
            target = destination / "database.dump"
            args, env = pg_environment(connection.settings_dict)
            done = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args],
                env={**_base_env(), **env},
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise CommandError(f"pg_dump failed: {done.stderr.strip()}")
        elif vendor == "sqlite":
            target = destination / "database.sqlite3"
            connection.ensure_connection()
            with sqlite3.connect(target) as copy:
                connection.connection.backup(copy)
        else:  # pragma: no cover - the settings allow only these two
            raise CommandError(f"Backing up a {vendor} database is not supported.")
        return {"vendor": vendor, "file": target.name, "sha256": file_sha256(target)}

    def _media(self, destination: Path) -> dict[str, Any]:
        if not isinstance(default_storage, FileSystemStorage):
            return {"copied": False, "note": "remote storage: use the bucket's versioning or replication"}
        root = Path(settings.MEDIA_ROOT)
        target = destination / "media"
        if root.is_dir():
            shutil.copytree(root, target)
        else:
            target.mkdir()
        files = sum(1 for path in target.rglob("*") if path.is_file())
        return {"copied": True, "files": files}

    def _keys(self, destination: Path) -> list[str]:
        saved = []
        for name, source in key_locations().items():
            target = destination / "keys" / name
            if source.is_dir():
                shutil.copytree(source, target)
            elif source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            else:
                continue  # configured from the environment or a secret store, not a file here
            saved.append(name)
        return saved


def _base_env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}
