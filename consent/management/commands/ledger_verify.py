"""Recompute the whole ledger and name the first entry that does not match."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from consent.ledger import ledger_verify


class Command(BaseCommand):
    help = "Verify every ledger entry, the sequence, the Merkle root and every signed tree head."

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_verify()
        if report.ok:
            self.stdout.write(f"OK: {report.entry_count} entries, root {report.root_hex}")
            return
        first = report.first_problem
        where = f"entry {first.sequence}" if first and first.sequence is not None else "a signed tree head"
        self.stdout.write(f"FAILED at {where}: {report.reason}")
        for problem in report.problems[:20]:
            self.stdout.write(f"  - {problem.kind}: {problem.message}")
        if report.problem_count > 20:
            self.stdout.write(f"  ... {report.problem_count - 20} more")
        sys.exit(1)
