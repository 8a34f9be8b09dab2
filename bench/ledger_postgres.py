"""Ledger benchmarks on the real database: appends per second, verification of a large log read
from the database, and inclusion-proof latency through the service.

Run with PostgreSQL (it creates and drops its own database `candor_bench`):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor_bench .venv/bin/python bench/ledger_postgres.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform as std_platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=5000, help="entries appended one transaction each")
    parser.add_argument("--writers", type=int, default=8, help="concurrent writer threads for the second run")
    parser.add_argument("--bulk", type=int, default=1_000_000, help="log size for verify and proof timings")
    parser.add_argument("--proofs", type=int, default=1000)
    args = parser.parse_args()

    import django
    from django.test.utils import get_runner  # noqa: F401 - loads the test machinery

    django.setup()
    from django.conf import settings
    from django.db import connection, connections, transaction
    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False)
    try:
        from consent import merkle
        from consent.ledger import ledger_append, ledger_inclusion_proof, ledger_tree_reset, ledger_verify
        from consent.models import LedgerEntry

        vendor = connection.vendor
        rows: list[tuple[str, str]] = []

        start = time.perf_counter()
        for i in range(args.appends):
            with transaction.atomic():
                ledger_append(
                    event_type="bench.append",
                    clinic_id=None,
                    object_type="bench",
                    object_id=f"s{i}",
                    data={"i": i},
                )
        single = args.appends / (time.perf_counter() - start)
        rows.append(("appends/s, 1 writer, one transaction per entry", f"{single:,.0f}"))

        per_writer = args.appends // args.writers

        def writer(n: int) -> None:
            for i in range(per_writer):
                with transaction.atomic():
                    ledger_append(
                        event_type="bench.concurrent", clinic_id=None, object_id=f"w{n}-{i}", data={"w": n}
                    )
            connections.close_all()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent = per_writer * args.writers / (time.perf_counter() - start)
        assert LedgerEntry.objects.count() == args.appends + per_writer * args.writers, "a writer failed"
        rows.append((f"appends/s, {args.writers} concurrent writers", f"{concurrent:,.0f}"))

        # Grow the log to --bulk entries with bulk inserts (the same canonical entries appends make).
        have = LedgerEntry.objects.count()
        batch = []
        now = __import__("django.utils.timezone", fromlist=["now"]).now()
        previous = LedgerEntry.objects.filter(seq=have - 1).values_list("leaf_hash", flat=True).first()
        for seq in range(have, args.bulk):
            # Columns and entry agree, as ledger_append writes them (ledger_verify checks both).
            created = now + datetime.timedelta(milliseconds=seq)
            body = {
                "v": 1,
                "seq": seq,
                "type": "bench.bulk",
                "at": int(created.timestamp() * 1000),
                "clinic": None,
                "object": {"type": "bench", "id": f"b{seq}"},
                "actor": "",
                "subject": "",
                "data": {"i": seq},
            }
            canonical = merkle.canonical_json(body)
            batch.append(
                LedgerEntry(
                    seq=seq,
                    event_type="bench.bulk",
                    object_type="bench",
                    object_id=f"b{seq}",
                    entry=canonical.decode(),
                    leaf_hash=merkle.leaf_hash(canonical).hex(),
                    previous_leaf_hash=previous,
                    created_at=created,
                )
            )
            previous = batch[-1].leaf_hash
            if len(batch) == 20_000:
                LedgerEntry.objects.bulk_create(batch)
                batch.clear()
        if batch:
            LedgerEntry.objects.bulk_create(batch)

        start = time.perf_counter()
        report = ledger_verify()
        verify_s = time.perf_counter() - start
        assert report.ok, report.reason
        rows.append((f"verify {report.entry_count:,} entries read from the database", f"{verify_s:.2f} s"))

        ledger_tree_reset()
        start = time.perf_counter()
        ledger_inclusion_proof(seq=0)
        rows.append(("first proof (loads the tree cache)", f"{time.perf_counter() - start:.2f} s"))
        import random

        rng = random.Random(1)
        latencies = []
        for _ in range(args.proofs):
            seq = rng.randrange(report.entry_count)
            t0 = time.perf_counter()
            ledger_inclusion_proof(seq=seq)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        rows.append(
            (
                f"inclusion proof, {report.entry_count:,}-entry log (p50 / p99)",
                f"{statistics.median(latencies):.3f} / {latencies[int(len(latencies) * 0.99)]:.3f} ms",
            )
        )
    finally:
        teardown_databases(old, verbosity=0)

    print(
        f"Ledger on {vendor} ({settings.DATABASES['default'].get('NAME')}), Python {std_platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
