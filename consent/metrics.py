"""The consent app's figures for the metrics endpoint (core.metrics): the ledger's size and how old
its last signed tree head is (a head that stops advancing means the signing job has stopped)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from django.db.models import Max
from prometheus_client.core import GaugeMetricFamily, Metric

from consent.models import LedgerEntry, SignedTreeHead


def ledger_metrics() -> Iterator[Metric]:
    size = GaugeMetricFamily("candor_ledger_entries", "Entries in the consent ledger.")
    # seq is gapless from 0, so the last one gives the size without counting every row.
    last = LedgerEntry.objects.aggregate(last=Max("seq"))["last"]
    size.add_metric([], 0 if last is None else last + 1)
    yield size

    head = SignedTreeHead.objects.order_by("-tree_size").values("tree_size", "timestamp_ms").first()
    age = GaugeMetricFamily(
        "candor_ledger_signed_head_age_seconds",
        "Seconds since the newest signed tree head was signed (absent before the first head).",
    )
    signed = GaugeMetricFamily(
        "candor_ledger_signed_head_size", "Ledger size covered by the newest signed head."
    )
    if head is not None:
        age.add_metric([], max(0.0, time.time() - head["timestamp_ms"] / 1000))
        signed.add_metric([], head["tree_size"])
    yield age
    yield signed
