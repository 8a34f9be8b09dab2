"""Destroy the biometric data of every enrollment past its retention date (beat runs it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from avatars.services import biometrics_expire, retention_schedule


class Command(BaseCommand):
    help = (
        "Destroy enrollment footage, photos, voice samples and derived templates past their retention date."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = biometrics_expire()
        schedule = retention_schedule()
        self.stdout.write(
            f"Destroyed the biometric data of {count} enrollment(s) (kept {schedule['retention_days']} days "
            f"after last use, {schedule['consent_end_grace_days']} days after consent ended)."
        )
