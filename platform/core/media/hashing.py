"""File hashing: the SHA-256 a provenance record, a ledger entry or a download check names a file by."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Files are hashed in chunks of this many bytes, so a long video never sits in memory whole.
CHUNK_BYTES = 1024 * 1024


def file_sha256(path: str | Path) -> str:
    """The lowercase hex SHA-256 of the file at `path`, read in `CHUNK_BYTES` chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
