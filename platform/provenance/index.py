"""The process-level fingerprint index of every registered output, kept in step with the table.

Built lazily on first use and extended with the rows added since (records are append-only and
their ids only grow), so a lookup costs one cheap aggregate query plus the in-memory match. Each
worker and web process holds its own copy; 100,000 videos of a few minutes each take tens of MB.
"""

from __future__ import annotations

import threading

import numpy as np
from django.db import connection
from django.db.models import Count, Max

from provenance.engine.fingerprint import FingerprintIndex
from provenance.models import ProvenanceRecord

_BATCH = 2_000  # rows per read while building: a few MB of fingerprint bytes in flight


def fingerprint_pack(hashes: np.ndarray) -> bytes:
    """A fingerprint's (samples, 2) uint64 hashes as stored in ProvenanceRecord.fingerprint."""
    return np.ascontiguousarray(hashes, dtype="<u8").reshape(-1, 2).tobytes()


def fingerprint_unpack(data: bytes) -> np.ndarray:
    """The (samples, 2) uint64 hashes from their stored bytes."""
    return np.frombuffer(bytes(data), dtype="<u8").astype(np.uint64).reshape(-1, 2)


class _IndexCache:
    """The index plus how far into the table it has read, for one database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset_locked()

    def reset_locked(self) -> None:
        self.index = FingerprintIndex()
        self.last_id = 0
        self.rows = 0  # records read so far, with or without a fingerprint
        self.database = ""

    def current(self) -> FingerprintIndex:
        with self.lock:
            name = str(connection.settings_dict["NAME"])
            state = ProvenanceRecord.objects.aggregate(newest=Max("id"), total=Count("id"))
            newest, total = state["newest"] or 0, state["total"]
            # Another database (tests), or rows gone that we hold (a test database flushed): rebuild.
            if name != self.database or newest < self.last_id:
                self.reset_locked()
                self.database = name
            self._extend(newest)
            if self.rows != total:
                # A transaction that took a lower id committed after a higher one was read (ids
                # are handed out before commit): rare, so read everything again.
                self.reset_locked()
                self.database = name
                self._extend(newest)
            return self.index

    def _extend(self, newest: int) -> None:
        while self.last_id < newest:
            rows = list(
                ProvenanceRecord.objects.filter(id__gt=self.last_id, id__lte=newest)
                .order_by("id")
                .values_list("id", "content_id", "fingerprint")[:_BATCH]
            )
            if not rows:
                break
            marked = [(content_id, fingerprint_unpack(data)) for _, content_id, data in rows if data]
            if marked:
                self.index.add_many(
                    [content_id for content_id, _ in marked],
                    np.concatenate([hashes for _, hashes in marked]),
                    np.repeat(np.arange(len(marked), dtype=np.int32), [h.shape[0] for _, h in marked]),
                )
            self.rows += len(rows)
            self.last_id = rows[-1][0]

    def reset(self) -> None:
        with self.lock:
            self.reset_locked()


_cache = _IndexCache()


def fingerprint_index() -> FingerprintIndex:
    """The index of every registered fingerprint, with rows committed since the last call added.

    Matches name a content id; callers confirm it against the table (a row read here may belong
    to a transaction a test later rolled back).
    """
    return _cache.current()


def fingerprint_index_reset() -> None:
    """Forget the index (tests that roll back or flush the table)."""
    _cache.reset()
