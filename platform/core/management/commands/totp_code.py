"""Print a demo user's current TOTP code (development only), for people without an authenticator app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current 6-digit code of a user's confirmed TOTP device (the local demo only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CANDOR_DEMO", False):
            raise CommandError("totp_code is for the local demo only (config.settings.local).")
        device = TOTPDevice.objects.filter(user__username=options["username"], confirmed=True).first()
        if device is None:
            raise CommandError(f"{options['username']} has no confirmed TOTP device.")
        self.stdout.write(
            f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"
        )
