"""System checks that guard the project's layout rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks


def register_checks() -> None:
    checks.register(_platform_is_not_a_package)


def _platform_is_not_a_package(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    # A package named platform would shadow the standard library module (torch, celery and uuid break).
    if (Path(settings.PLATFORM_DIR) / "__init__.py").exists():
        return [
            checks.Error(
                "platform/__init__.py must not exist: it shadows the standard library.", id="candor.E001"
            )
        ]
    return []
