"""What the kernel registers in its own registries at start-up, as every app does (see core.apps)."""

from __future__ import annotations

from core.checks import register_checks
from core.job_kinds import job_kind_register
from core.models import JobKind
from core.tasks import video_proxy_run


def register() -> None:
    """The kernel's system checks and its one job kind, the browser-playable proxy of an upload."""
    register_checks()
    job_kind_register(JobKind.VIDEO_PROXY, task=video_proxy_run, label=JobKind.VIDEO_PROXY.label)
