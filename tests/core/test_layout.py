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
