"""Seed the demo clinic and print everyone's sign-in details."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import segno
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from core.demo import DEMO_PASSWORD, demo_contributions, demo_seed, demo_user, demo_video_write
from core.models import JobKind, MediaJob, Role
from core.services import video_proxy_start


class Command(BaseCommand):
    help = "Create the demo clinic with one user per role and a sample video job (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-qr", action="store_true", help="Print TOTP secrets without terminal QR codes."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clinic, people = demo_seed()
        # The apps' parts of the demo (texts, a published video...), registered in their register().
        contributions = demo_contributions()
        for contribution in contributions:
            if contribution.announce:
                self.stdout.write(contribution.announce)
            contribution.seed(clinic, people)
        for contribution in contributions:
            if contribution.finish is not None:
                contribution.finish(clinic, people)
        if not MediaJob.objects.filter(clinic=clinic, kind=JobKind.VIDEO_PROXY).exists():
            with tempfile.TemporaryDirectory() as tmp:
                path = demo_video_write(Path(tmp) / "demo.mp4")
                upload = SimpleUploadedFile("abstract-demo.mp4", path.read_bytes(), content_type="video/mp4")
                video_proxy_start(actor=demo_user(people, Role.CLINICIAN), file=upload)
        out = self.stdout
        out.write(self.style.SUCCESS(f"\nDemo clinic: {clinic.name}"))
        # bin/demo serves on CANDOR_HOST:CANDOR_PORT; say the address it really listens on.
        address = (
            f"http://{os.environ.get('CANDOR_HOST', '127.0.0.1')}:{os.environ.get('CANDOR_PORT', '8000')}"
        )
        out.write(f"Open {address} and sign in as any of these (password for all: {DEMO_PASSWORD}):\n")
        for person in people:
            user = person.user
            out.write(f"  {user.get_role_display():<20} username: {user.username}")
            if person.totp is not None:
                secret = base64.b32encode(person.totp.bin_key).decode().rstrip("=")
                out.write(f"  {'':<20} second factor (TOTP) secret: {secret}")
                out.write(
                    f"  {'':<20} current code any time: .venv/bin/python manage.py totp_code {user.username}"
                )
                if not options["no_qr"]:
                    segno.make(person.totp.config_url, error="l").terminal(
                        out=out._out,  # type: ignore[arg-type]  # the stub types OutputWrapper's attributes as methods; _out is its stream
                        compact=True,
                    )
        out.write("")
