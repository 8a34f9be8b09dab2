"""bin/serve: the production settings behind several uvicorn worker processes, each with a pool of
PostgreSQL connections, answer readiness and keep their connections across requests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Host": "127.0.0.1"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 — loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.mark.django_db
def test_the_production_server_runs_two_workers_with_pooled_database_connections(tmp_path: Path) -> None:
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("production settings need PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    settings_dict = connection.settings_dict
    user = settings_dict.get("USER") or "postgres"
    database_url = f"postgres://{user}@{settings_dict.get('HOST') or '127.0.0.1'}:{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "CANDOR_PROVENANCE_WATERMARK_KEY": secrets.token_hex(32),
        "CANDOR_LEDGER_SIGNING_KEY": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url,
        "CANDOR_VAR_DIR": str(tmp_path),
        "CANDOR_HOST": "127.0.0.1",
        "CANDOR_PORT": str(port),
        "CANDOR_WEB_WORKERS": "2",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    server = subprocess.Popen(
        ["bin/serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.5)
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/health/")
            except OSError:
                continue
        assert status == 200, "the server did not come up"
        answers = [_get(f"http://127.0.0.1:{port}/ready/") for _ in range(10)]
        assert all(code == 200 and body["database"] == "ok" for code, body in answers), answers
        # The workers kept their pools' connections open after answering (without a pool, or with
        # CONN_MAX_AGE=0, each request's connection closes when it ends): at least each pool's minimum.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [settings_dict["NAME"]],
            )
            (open_connections,) = cursor.fetchone()
        assert 2 * 2 <= open_connections <= 2 * 8
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
