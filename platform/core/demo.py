"""The demo clinic: one person per role, second factors for the privileged ones, and a sample video.

The sample video is an abstract animation drawn here, so the demo shows no real person. What the
demo holds beyond people and that video comes from the apps: each registers a `DemoContribution`
from its `register()`, and `manage.py demo_seed` runs them in the order of INSTALLED_APPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.media.mp4 import Mp4Writer
from core.models import Clinic, Role, User
from core.services import clinic_create, clinic_member_create

DEMO_CLINIC_SLUG = "riverside-demo"
DEMO_PASSWORD = "candor-demo-pass"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    role: str
    email: str


DEMO_PEOPLE = [
    DemoPerson("admin", "Alex Morgan", Role.CLINIC_ADMIN, "admin@riverside.example"),
    DemoPerson("dr.rivera", "Dr. Sam Rivera", Role.CLINICIAN, "rivera@riverside.example"),
    DemoPerson("patient", "Jordan Lee", Role.PATIENT, "jordan@patients.example"),
    DemoPerson("compliance", "Casey Chen", Role.COMPLIANCE_OFFICER, "compliance@riverside.example"),
]


@dataclass(frozen=True)
class SeededPerson:
    user: User
    totp: TOTPDevice | None


def demo_user(people: Sequence[SeededPerson], role: str) -> User:
    """The seeded person with this role."""
    return next(person.user for person in people if person.user.role == role)


DemoStep = Callable[[Clinic, Sequence[SeededPerson]], None]


@dataclass(frozen=True)
class DemoContribution:
    """What one app adds to the demo clinic; every step is idempotent (the seed runs on every start).

    `seed` runs in app order, after the people exist and after `announce` is printed (for a step
    slow enough to explain); `finish` runs once every app has seeded (e.g. to sign what they wrote).
    """

    app: str
    seed: DemoStep
    announce: str = ""
    finish: DemoStep | None = None


_contributions: dict[str, DemoContribution] = {}


def demo_contribution_register(contribution: DemoContribution) -> None:
    """Register an app's part of the demo (one per app; registering it again replaces it)."""
    _contributions[contribution.app] = contribution


def demo_contributions() -> list[DemoContribution]:
    """The registered contributions, in the order the apps registered them (INSTALLED_APPS)."""
    return list(_contributions.values())


@transaction.atomic
def demo_seed() -> tuple[Clinic, list[SeededPerson]]:
    """Create (or find) the demo clinic and its people; safe to run repeatedly."""
    clinic = Clinic.objects.filter(slug=DEMO_CLINIC_SLUG).first() or clinic_create(
        name="Riverside Family Clinic (demo)",
        slug=DEMO_CLINIC_SLUG,
        contact_email="frontdesk@riverside.example",
        contact_phone="+1 555 0100",
    )
    seeded = []
    for person in DEMO_PEOPLE:
        user = User.objects.filter(username=person.username).first() or clinic_member_create(
            clinic=clinic,
            username=person.username,
            password=DEMO_PASSWORD,
            role=person.role,
            email=person.email,
            display_name=person.display_name,
        )
        device = None
        if user.is_privileged:
            device = TOTPDevice.objects.filter(
                user=user, confirmed=True
            ).first() or TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
        seeded.append(SeededPerson(user, device))
    return clinic, seeded


def demo_video_write(
    path: Path, *, seconds: float = 6.0, width: int = 640, height: int = 360, fps: int = 25
) -> Path:
    """Draw a short abstract clip with a tone: moving colour bands and a sweeping bar."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rate = 48_000
    with Mp4Writer(path, width=width, height=height, fps=fps) as writer:
        frames = int(seconds * fps)
        for i in range(frames):
            t = i / fps
            r = 128 + 90 * np.sin(xs / 57 + t * 1.7)
            g = 128 + 90 * np.sin(ys / 41 - t * 1.1)
            b = 128 + 90 * np.sin((xs + ys) / 83 + t * 0.6)
            frame = np.stack([r, g, b], axis=-1).astype(np.uint8)
            bar = int((i / frames) * width)
            frame[height - 24 :, :bar] = (255, 255, 255)
            writer.write_frame(frame)
        n = np.arange(int(seconds * rate), dtype=np.float32) / rate
        tone = 0.2 * np.sin(2 * math.pi * (220 + 110 * np.sin(n * 0.5)) * n)
        writer.write_audio(tone.astype(np.float32))
    return path
