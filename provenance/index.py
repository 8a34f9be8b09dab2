"""The process-level fingerprint index of every registered output, kept in step with the table.

Built lazily on first use and extended with the rows added since (records are never deleted and
their ids only grow), so a lookup costs one aggregate query plus the in-memory match. Each web and
worker process holds its own copy: 16 bytes per sample at 2 samples a second, so 100,000
five-minute videos take about 1 GB; shorter education videos much less.
"""

from __future__ import annotations

import threading

import numpy as np
from django.db import connection
from django.db.models import Count, Max

from provenance.engine.fingerprint import FingerprintIndex, FingerprintMatch, VideoFingerprint
from provenance.models import ProvenanceRecord

_BATCH = 2_000  # rows per read while building: a few MB of fingerprint bytes in flight


def fingerprint_pack(hashes: np.ndarray) -> bytes:
    """A fingerprint's (samples, 2) uint64 hashes as stored in ProvenanceRecord.fingerprint."""
    return np.ascontiguousarray(hashes, dtype="<u8").reshape(-1, 2).tobytes()


def fingerprint_unpack(data: bytes) -> np.ndarray:
    """The (samples, 2) uint64 hashes from their stored bytes."""
    return np.frombuffer(bytes(data), dtype="<u8").astype(np.uint64).reshape(-1, 2)


class SharedFingerprintIndex:
    """The process's index of registered fingerprints, and how far into the table it has read.

    Web requests run in threads and `FingerprintIndex` compacts itself on `match`, so reading new
    rows and matching both happen under one lock; a match takes milliseconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._index = FingerprintIndex()
        self._last_id = 0
        self._rows = 0  # records read so far, with or without a fingerprint
        self._database = ""

    def _refresh(self) -> None:
        name = str(connection.settings_dict["NAME"])
        state = ProvenanceRecord.objects.aggregate(newest=Max("id"), total=Count("id"))
        newest, total = state["newest"] or 0, state["total"]
        # Another database (tests), or rows gone that we hold (a test database flushed): rebuild.
        if name != self._database or newest < self._last_id:
            self._reset()
            self._database = name
        self._extend(newest)
        if self._rows != total:
            # A transaction that took a lower id committed after a higher one was read (ids are
            # handed out before commit): rare, so read everything again.
            self._reset()
            self._database = name
            self._extend(newest)

    def _extend(self, newest: int) -> None:
        while self._last_id < newest:
            rows = list(
                ProvenanceRecord.objects.filter(id__gt=self._last_id, id__lte=newest)
                .order_by("id")
                .values_list("id", "content_id", "fingerprint")[:_BATCH]
            )
            if not rows:
                break
            marked = [(content_id, fingerprint_unpack(bytes(data))) for _, content_id, data in rows if data]
            if marked:
                self._index.add_many(
                    [content_id for content_id, _ in marked],
                    np.concatenate([hashes for _, hashes in marked]),
                    np.repeat(np.arange(len(marked), dtype=np.int32), [h.shape[0] for _, h in marked]),
                )
            self._rows += len(rows)
            self._last_id = rows[-1][0]

    def match(self, query: VideoFingerprint) -> FingerprintMatch | None:
        """The registered output (its content id as `video_id`) this query is a copy of, or None.

        A match names a content id; callers confirm it against the table (a row read here may
        belong to a transaction a test later rolled back).
        """
        with self._lock:
            self._refresh()
            return self._index.match(query)

    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._index)

    def reset(self) -> None:
        """Forget everything read so far."""
        with self._lock:
            self._reset()


_shared = SharedFingerprintIndex()


def fingerprint_index() -> SharedFingerprintIndex:
    """The index of every registered fingerprint, brought up to date with the table on each use.

    It has the `match` of the engine's `FingerprintIndex`, so `inspect_media` takes it as is.
    """
    return _shared


def fingerprint_index_reset() -> None:
    """Forget the index (tests that roll back or flush the table)."""
    _shared.reset()
