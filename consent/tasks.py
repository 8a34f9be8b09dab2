"""Periodic consent tasks (Celery beat): expiry and signed tree heads."""

from __future__ import annotations

from celery import shared_task

from consent.ledger import ledger_sign_head
from consent.services.likeness import likeness_consents_expire


@shared_task
def consents_expire() -> int:
    """End every likeness consent whose validity period is over."""
    return likeness_consents_expire()


@shared_task
def ledger_head_sign() -> int | None:
    """Issue a signed tree head when the ledger has grown."""
    head = ledger_sign_head()
    return head.tree_size if head else None
