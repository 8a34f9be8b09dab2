"""The source root must never shadow Python's standard library."""

from pathlib import Path

from django.core.management import call_command


def test_platform_is_still_the_standard_library_module() -> None:
    import platform

    assert platform.python_version().count(".") == 2
    assert not (Path(__file__).resolve().parents[2] / "platform" / "__init__.py").exists()


def test_torch_and_celery_import_beside_the_source_root() -> None:
    import celery
    import torch

    assert torch.tensor([1, 2]).sum().item() == 3
    assert celery.__version__


def test_system_checks_pass(db: None) -> None:
    call_command("check")


def test_migrations_are_complete(db: None) -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_deploy_checks_are_clean_with_production_settings(tmp_path) -> None:
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "CANDOR_PROVENANCE_WATERMARK_KEY": secrets.token_hex(32),
        "DJANGO_ALLOWED_HOSTS": "candor.example.org",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://candor@127.0.0.1:5432/candor"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CANDOR_VAR_DIR": str(tmp_path),
    }
    # The browser tests set this in the test process (Playwright keeps an event loop); a deployment
    # never has it, and the deploy check rightly warns about it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_a_short_secret_key(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "short",
        "DATABASE_URL": "postgres://x@127.0.0.1/x",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CANDOR_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr
