"""The media toolkit's file hash (runs without Django: `pytest -p no:django tests/core/media`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.media import hashing
from core.media.hashing import file_sha256


def test_file_sha256_is_the_sha256_of_the_whole_file_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "CHUNK_BYTES", 7)
    content = bytes(range(256)) * 3 + b"tail"
    path = tmp_path / "clip.bin"
    path.write_bytes(content)
    assert file_sha256(path) == hashlib.sha256(content).hexdigest()
    assert file_sha256(str(path)) == hashlib.sha256(content).hexdigest()


def test_file_sha256_of_an_empty_file_is_the_empty_digest(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert file_sha256(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_file_sha256_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing.mp4")
