"""Create a clinic and its first clinic admin: the first step on a new production installation.

Everyone else joins by invitation from that admin. The password is read from a file (a secret
volume, or `-` for standard input), never from the command line, where it would be kept in shell
history and shown in the process list. The admin sets up the second factor at first sign-in.
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug
from django.db import transaction

from core.models import Clinic, Role, User
from core.services import clinic_create, clinic_member_create


class Command(BaseCommand):
    help = "Create a clinic and its first clinic admin (password from a file or '-' for stdin)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True, help="the clinic's name, as people see it")
        parser.add_argument("--slug", required=True, help="short identifier: letters, digits, - and _")
        parser.add_argument("--contact-email", required=True)
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="", help="the admin's name as shown in the product")
        parser.add_argument(
            "--password-file", required=True, help="file holding the admin's password, or - for stdin"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        slug = options["slug"].strip()
        username = options["admin_username"].strip()
        if not name:
            raise CommandError("--name must not be empty.")
        checks = (
            (validate_slug, slug, "--slug may hold only letters, digits, hyphens and underscores."),
            (validate_email, options["contact_email"], "--contact-email is not an e-mail address."),
            (validate_email, options["admin_email"], "--admin-email is not an e-mail address."),
        )
        for validator, value, message in checks:
            try:
                validator(value)
            except ValidationError as error:
                raise CommandError(message) from error
        if Clinic.objects.filter(slug=slug).exists():
            raise CommandError(f"A clinic with the slug {slug!r} already exists.")
        if not username or User.objects.filter(username=username).exists():
            raise CommandError(f"The username {username!r} is empty or already taken.")

        password = self._read_password(options["password_file"])
        candidate = User(username=username, email=options["admin_email"], role=Role.CLINIC_ADMIN)
        try:
            validate_password(password, user=candidate)
        except ValidationError as error:
            raise CommandError("The password is refused: " + " ".join(error.messages)) from error

        with transaction.atomic():
            clinic = clinic_create(name=name, slug=slug, contact_email=options["contact_email"])
            clinic_member_create(
                clinic=clinic,
                username=username,
                password=password,
                role=Role.CLINIC_ADMIN,
                email=options["admin_email"],
                display_name=options["admin_name"].strip(),
            )
        self.stdout.write(
            f"Created the clinic {name!r} and its admin {username!r}. Sign in as {username}: the "
            "second factor (an authenticator app) is set up at first sign-in; then invite the "
            "clinic's people from the Team page."
        )

    @staticmethod
    def _read_password(source: str) -> str:
        try:
            if source == "-":
                text = sys.stdin.readline()
            else:
                with open(source, encoding="utf-8") as handle:
                    text = handle.readline()
        except OSError as error:
            raise CommandError(f"Cannot read the password file: {error.strerror}.") from error
        password = text.rstrip("\r\n")
        if not password:
            raise CommandError("The password file is empty.")
        return password
