"""Everything the consent app plugs into the kernel and into its own extension points, in one place."""

from __future__ import annotations

from consent.hooks import consent_end_handler_register
from consent.jobs import jobs_cancel_for_consent


def register() -> None:
    """Called once by ConsentConfig.ready."""
    consent_end_handler_register(jobs_cancel_for_consent)
