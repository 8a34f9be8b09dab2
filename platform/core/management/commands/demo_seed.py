"""Seed the demo clinic and print everyone's sign-in details."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import segno
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from core.demo import DEMO_PASSWORD, demo_seed, demo_video_write
from core.models import JobKind, MediaJob
from core.services import video_proxy_start


class Command(BaseCommand):
    help = "Create the demo clinic with one user per role and a sample video job (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-qr", action="store_true", help="Print TOTP secrets without terminal QR codes."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clinic, people = demo_seed()
        clinician = next(p.user for p in people if p.user.role == "clinician")
        admin = next(p.user for p in people if p.user.role == "clinic_admin")
        from consent.defaults import consent_defaults_ensure
        from consent.ledger import ledger_sign_head

        consent_defaults_ensure(actor=admin)
        from avatars.demo import demo_video_ensure

        patient = next(p.user for p in people if p.user.role == "patient")
        self.stdout.write("Rendering the demo education video (stock presenter; first run only)...")
        demo_video_ensure(clinician=clinician, patient=patient)
        ledger_sign_head()
        if not MediaJob.objects.filter(clinic=clinic, kind=JobKind.VIDEO_PROXY).exists():
            with tempfile.TemporaryDirectory() as tmp:
                path = demo_video_write(Path(tmp) / "demo.mp4")
                upload = SimpleUploadedFile("abstract-demo.mp4", path.read_bytes(), content_type="video/mp4")
                video_proxy_start(actor=clinician, file=upload)
        out = self.stdout
        out.write(self.style.SUCCESS(f"\nDemo clinic: {clinic.name}"))
        out.write(
            f"Open http://127.0.0.1:8000 and sign in as any of these (password for all: {DEMO_PASSWORD}):\n"
        )
        for person in people:
            user = person.user
            out.write(f"  {user.get_role_display():<20} username: {user.username}")
            if person.totp is not None:
                secret = base64.b32encode(person.totp.bin_key).decode().rstrip("=")
                out.write(f"  {'':<20} second factor (TOTP) secret: {secret}")
                out.write(f"  {'':<20} current code any time: python manage.py totp_code {user.username}")
                if not options["no_qr"]:
                    segno.make(person.totp.config_url, error="l").terminal(out=out._out, compact=True)
        out.write("")
