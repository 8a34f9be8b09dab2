"""The README's production walk from nothing: secrets made by docker/make-secrets satisfy the
compose file and the production settings, and `clinic_create` makes the first clinic and its admin."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from core.models import Clinic, Role, User

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def _make_secrets(folder: Path) -> str:
    done = subprocess.run(
        [str(DOCKER / "make-secrets"), str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _compose_secret_files() -> dict[str, str]:
    """Secret name -> file name in docker/secrets/, as docker/compose.yaml declares them."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    files = {}
    for name, spec in compose["secrets"].items():
        path = Path(spec["file"])
        assert path.parent == Path("secrets"), (name, spec)
        files[name] = path.name
    return files


def test_make_secrets_writes_every_secret_the_compose_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    _make_secrets(folder)
    values = {}
    for name, file_name in _compose_secret_files().items():
        path = folder / file_name
        assert path.is_file(), f"make-secrets did not write {file_name} ({name})"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, file_name
        values[file_name] = path.read_text(encoding="utf-8").strip()
        assert values[file_name], file_name

    assert len(values["django_secret_key"]) >= 50
    assert len(values["watermark_key"]) >= 32
    key = load_pem_private_key(values["ledger_signing_key.pem"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert values["database_url"] == f"postgres://candor:{values['postgres_password']}@postgres:5432/candor"
    assert f"aws_access_key_id = {values['s3_access_key']}" in values["s3_credentials"]
    assert f"aws_secret_access_key = {values['s3_secret_key']}" in values["s3_credentials"]
    # Two runs never make the same secrets.
    other = tmp_path / "other"
    _make_secrets(other)
    assert (other / "django_secret_key").read_text() != (folder / "django_secret_key").read_text()


def test_make_secrets_never_replaces_an_existing_secret(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    _make_secrets(folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    (folder / "metrics_token").unlink()
    output = _make_secrets(folder)
    assert "metrics_token" in output
    after = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert set(after) == set(before)
    assert {name: data for name, data in after.items() if name != "metrics_token"} == {
        name: data for name, data in before.items() if name != "metrics_token"
    }
    assert "nothing changed" in _make_secrets(folder)


def test_the_made_secrets_satisfy_the_production_settings(tmp_path: Path) -> None:
    """The production settings start from the secret files alone (as the compose file passes them)."""
    folder = tmp_path / "secrets"
    _make_secrets(folder)
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/candor")
    (folder / "database_url").write_text(database)  # the test's database instead of the compose host
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CANDOR_", "DATABASE_URL", "AWS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_ALLOWED_HOSTS="candor.example.org",
        DJANGO_SECRET_KEY_FILE=str(folder / "django_secret_key"),
        DATABASE_URL_FILE=str(folder / "database_url"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CANDOR_PROVENANCE_WATERMARK_KEY_FILE=str(folder / "watermark_key"),
        CANDOR_LEDGER_SIGNING_KEY_FILE=str(folder / "ledger_signing_key.pem"),
        CANDOR_METRICS_TOKEN_FILE=str(folder / "metrics_token"),
        CANDOR_PROVENANCE_KEY_DIR=str(tmp_path / "keys"),
        PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
    )
    probe = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from consent.ledger import ledger_signing_key\n"
        "assert not settings.DEBUG\n"
        "assert len(settings.SECRET_KEY) >= 50\n"
        "assert settings.METRICS_TOKEN\n"
        "print(type(ledger_signing_key()).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Ed25519PrivateKey" in done.stdout


@pytest.mark.django_db
def test_clinic_create_makes_the_first_clinic_and_its_admin(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("a long passphrase for the first admin\n")
    out = io.StringIO()
    call_command(
        "clinic_create",
        "--name=Riverside Clinic",
        "--slug=riverside",
        "--contact-email=office@riverside.example",
        "--admin-username=ada",
        "--admin-email=ada@riverside.example",
        "--admin-name=Ada Lovelace",
        f"--password-file={password_file}",
        stdout=out,
    )
    clinic = Clinic.objects.get(slug="riverside")
    admin = User.objects.get(username="ada")
    assert admin.clinic == clinic and admin.role == Role.CLINIC_ADMIN
    assert authenticate(username="ada", password="a long passphrase for the first admin") == admin
    assert "second factor" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "password", "message"),
    [
        ({"--slug": "demo clinic"}, "a long passphrase for the first admin", "--slug"),
        ({"--admin-email": "not-an-address"}, "a long passphrase for the first admin", "--admin-email"),
        ({}, "short", "password is refused"),
        ({}, "", "empty"),
    ],
)
def test_clinic_create_refuses_bad_input_and_leaves_nothing(
    tmp_path: Path, change: dict[str, str], password: str, message: str
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(password)
    options = {
        "--name": "Riverside Clinic",
        "--slug": "riverside",
        "--contact-email": "office@riverside.example",
        "--admin-username": "ada",
        "--admin-email": "ada@riverside.example",
        "--password-file": str(password_file),
        **change,
    }
    with pytest.raises(CommandError, match=message):
        call_command("clinic_create", *[f"{key}={value}" for key, value in options.items()])
    assert not Clinic.objects.filter(name="Riverside Clinic").exists()
    assert not User.objects.filter(username="ada").exists()


@pytest.mark.django_db
def test_clinic_create_refuses_a_taken_slug_or_username(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("a long passphrase for the first admin")
    base = [
        "--name=Riverside Clinic",
        "--contact-email=office@riverside.example",
        "--admin-email=ada@riverside.example",
        f"--password-file={password_file}",
    ]
    call_command("clinic_create", *base, "--slug=riverside", "--admin-username=ada", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("clinic_create", *base, "--slug=riverside", "--admin-username=bob")
    with pytest.raises(CommandError, match="already taken"):
        call_command("clinic_create", *base, "--slug=hillside", "--admin-username=ada")
    assert Clinic.objects.filter(slug="hillside").count() == 0
    assert User.objects.filter(username="bob").count() == 0
