"""Everything the consent app plugs into the kernel and into its own extension points, in one place."""

from __future__ import annotations

from consent.demo import consent_demo_finish, consent_demo_seed
from consent.hooks import consent_end_handler_register
from consent.jobs import jobs_cancel_for_consent
from consent.metrics import ledger_metrics
from core.demo import DemoContribution, demo_contribution_register
from core.metrics import metrics_register


def register() -> None:
    """Called once by ConsentConfig.ready."""
    consent_end_handler_register(jobs_cancel_for_consent)
    metrics_register(ledger_metrics)
    demo_contribution_register(
        DemoContribution(app="consent", seed=consent_demo_seed, finish=consent_demo_finish)
    )
