"""Benchmark the ledger's Merkle core on synthetic entries; prints a markdown table.

    .venv/bin/python bench/ledger_merkle.py [--entries 1000000] [--proofs 2000]

Measures, on one CPU core (the code is single-threaded):

* verifying a log end to end through ``verify_log``: recompute every leaf hash from canonical JSON
  entries of about 150 bytes, check the sequence, compare with the stored hash, build the root and
  check a signed head at the end (target: 1,000,000 entries in 10 s or less);
* building a ``MerkleTree`` from the stored leaf hashes (what a proof server does once at start-up);
* inclusion- and consistency-proof latency on that tree, generation alone and generation plus
  verification, over random leaves (target: inclusion proof 5 ms or less).

The entries are built in memory first (not timed): the database read is the Django side's cost and
is measured by its own benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "platform"), str(Path(__file__).resolve().parent.parent)]

from consent.merkle import (  # noqa: E402  (the path above must come first)
    MerkleTree,
    canonical_json,
    generate_signing_key,
    leaf_hash,
    sign_tree_head,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

EVENT_TYPES = ("consent.signed", "consent.revoked", "render.requested", "render.finished", "video.published")


def synthetic_entries(count: int, seed: int) -> list[tuple[int, bytes, bytes]]:
    """``count`` ledger rows shaped like real ones: ids, a type, a clinic, an object uuid and a hash."""
    rng = random.Random(seed)
    rows = []
    for sequence in range(count):
        entry = canonical_json(
            {
                "seq": sequence,
                "type": EVENT_TYPES[sequence % len(EVENT_TYPES)],
                "clinic": rng.randrange(1, 500),
                "object": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "sha256": rng.getrandbits(256).to_bytes(32, "big").hex(),
            }
        )
        rows.append((sequence, entry, leaf_hash(entry)))
    return rows


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def time_each(calls: int, action: Callable[[int], object]) -> list[float]:
    """Run ``action(i)`` for i in range(calls); return each call's wall time in milliseconds."""
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6962)
    args = parser.parse_args()
    n = args.entries

    start = time.perf_counter()
    rows = synthetic_entries(n, args.seed)
    generate_s = time.perf_counter() - start
    mean_entry_bytes = sum(len(entry) for _, entry, _ in rows) / n

    leaves = [stored for _, _, stored in rows]
    start = time.perf_counter()
    tree = MerkleTree(leaves)
    build_s = time.perf_counter() - start

    key = generate_signing_key()
    head = sign_tree_head(key, n, tree.root(), int(time.time() * 1000))
    start = time.perf_counter()
    report = verify_log(rows, heads=[head], public_keys=[key.public_key()])
    verify_s = time.perf_counter() - start
    if not report.ok or report.root_hash != tree.root():
        raise SystemExit(f"verification disagreed with the tree: {report.problems[:3]}")

    rng = random.Random(args.seed)
    indices = [rng.randrange(n) for _ in range(args.proofs)]
    old_sizes = [rng.randrange(1, n) for _ in range(args.proofs)]
    root = tree.root()

    def prove_and_verify_inclusion(i: int) -> None:
        index = indices[i]
        if not verify_inclusion(leaves[index], index, n, tree.inclusion_proof(index), root):
            raise SystemExit(f"the inclusion proof of leaf {index} failed to verify")

    def prove_and_verify_consistency(i: int) -> None:
        old = old_sizes[i]
        if not verify_consistency(old, n, tree.root(old), root, tree.consistency_proof(old)):
            raise SystemExit(f"the consistency proof from size {old} failed to verify")

    inclusion_ms = time_each(args.proofs, lambda i: tree.inclusion_proof(indices[i]))
    inclusion_verified_ms = time_each(args.proofs, prove_and_verify_inclusion)
    consistency_ms = time_each(args.proofs, lambda i: tree.consistency_proof(old_sizes[i]))
    consistency_verified_ms = time_each(args.proofs, prove_and_verify_consistency)

    cpu = platform.processor() or platform.machine()
    print(
        f"Ledger Merkle benchmark: {n:,} entries (mean {mean_entry_bytes:.0f} bytes of canonical JSON), "
        f"{args.proofs:,} random proofs each; Python {platform.python_version()}, {cpu}, "
        f"{os.cpu_count()} CPUs, single-threaded. Entries generated in {generate_s:.1f} s (not timed below)."
    )
    print()
    print("| measure | result | target |")
    print("|---|---|---|")
    print(
        f"| verify_log: {n:,} entries (leaf hashes, sequence, root, signed head) | "
        f"{verify_s:.2f} s ({n / verify_s:,.0f} entries/s) | ≤ 10 s |"
    )
    print(f"| build MerkleTree from {n:,} stored leaf hashes | {build_s:.2f} s | — |")
    for label, samples, target in (
        ("inclusion proof", inclusion_ms, "≤ 5 ms"),
        ("inclusion proof + verify", inclusion_verified_ms, "—"),
        ("consistency proof", consistency_ms, "—"),
        ("consistency proof + verify", consistency_verified_ms, "—"),
    ):
        print(
            f"| {label}, {n:,}-leaf tree | p50 {statistics.median(samples):.3f} ms, "
            f"p99 {percentile(samples, 0.99):.3f} ms, max {max(samples):.3f} ms | {target} |"
        )


if __name__ == "__main__":
    main()
