"""The single way a media file enters Candor: sniff, limit, probe, hash, then store and record.

Nothing is written to storage or the database until the file has passed every check, and a failure
after storing removes the stored file again, so a refused upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from core.errors import ApplicationError, CoreErrorCode
from core.media.errors import MediaError
from core.media.probe import Limits, ProbeResult, probe, sniff
from core.models import Upload, User
from core.ratelimit import rate_limit_hit

T = TypeVar("T")


@dataclass(frozen=True)
class CheckedFile:
    path: Path
    probe: ProbeResult
    sha256: str
    size_bytes: int
    original_name: str


def _limits() -> Limits:
    return Limits(
        max_duration_seconds=float(settings.UPLOAD_MAX_DURATION_SECONDS),
        max_dimension=settings.UPLOAD_MAX_DIMENSION,
        min_dimension=settings.UPLOAD_MIN_DIMENSION,
        max_fps=float(settings.UPLOAD_MAX_FPS),
    )


def _clean_name(name: str) -> str:
    """The name shown to people: no folders (POSIX or Windows), no control or direction characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return cleaned if cleaned.strip(".") else "upload"


#: What each kind of upload may be, as the refusal names it (only the kinds the page takes).
_ACCEPTED_FORMATS = {
    "video": "MP4, MOV, WebM, AVI and MPEG video",
    "image": "JPEG and PNG images",
    "audio": "WAV, FLAC, MP3 and Ogg audio",
}


@dataclass(frozen=True)
class ReceivedFile:
    """An upload copied into scratch space, within the size limit, hashed, not yet judged or stored."""

    path: Path
    sha256: str
    size_bytes: int
    original_name: str


def _too_large(size: int) -> ApplicationError:
    return ApplicationError(
        f"The file is {size / 1e6:.1f} MB; at most {settings.UPLOAD_MAX_BYTES / 1e6:.0f} MB are accepted.",
        code=CoreErrorCode.UPLOAD_TOO_LARGE,
        status=413,
    )


def upload_receive(*, file: UploadedFile, scratch: Path) -> ReceivedFile:
    """Stream the upload into `scratch` while hashing it, refusing an empty or oversized file.

    The size the client declared is checked first and the bytes actually received are counted as
    they arrive, so a file is never held in memory whole and never grows past the limit on disk.
    This is the first step of every upload (`upload_check` for media; apps with their own formats,
    such as DICOM studies, judge the received file themselves and store it with `upload_store`).
    """
    size = file.size or 0
    if size == 0:
        raise ApplicationError("The file is empty (0 bytes).", code=CoreErrorCode.UPLOAD_EMPTY)
    if size > settings.UPLOAD_MAX_BYTES:
        raise _too_large(size)
    path = scratch / "original"
    digest = hashlib.sha256()
    received = 0
    with path.open("wb") as out:
        for chunk in file.chunks():
            received += len(chunk)
            if received > settings.UPLOAD_MAX_BYTES:
                raise _too_large(received)
            digest.update(chunk)
            out.write(chunk)
    if received == 0:
        raise ApplicationError("The file is empty (0 bytes).", code=CoreErrorCode.UPLOAD_EMPTY)
    return ReceivedFile(path, digest.hexdigest(), received, _clean_name(file.name or ""))


def upload_store(*, path: Path, key: str, then: Callable[[str], T]) -> T:
    """Save a checked file under `key` and run `then(stored_key)` in one transaction; if anything in
    the transaction fails the stored file is deleted again (storage is not transactional)."""
    with path.open("rb") as handle:
        stored_key = default_storage.save(key, File(handle))
    try:
        with transaction.atomic():
            return then(stored_key)
    except BaseException:
        default_storage.delete(stored_key)
        raise


def upload_check(*, file: UploadedFile, kinds: Iterable[str], scratch: Path) -> CheckedFile:
    """Copy the upload into `scratch` and validate it; raise ApplicationError naming the problem."""
    kinds = frozenset(kinds)
    wanted = " or ".join(sorted(kinds))
    received = upload_receive(file=file, scratch=scratch)
    path = received.path
    with path.open("rb") as head_file:
        head = head_file.read(64)
    sniffed = sniff(head)
    if sniffed is None:
        raise ApplicationError(
            f"This file is not a recognised {wanted} format (the name {file.name!r} does not decide the type; "
            f"its contents do). Accepted here: {'; '.join(_ACCEPTED_FORMATS.get(kind, kind) for kind in sorted(kinds))}.",
            code=CoreErrorCode.UPLOAD_UNKNOWN_TYPE,
            status=415,
        )
    if sniffed.kind not in kinds:
        raise ApplicationError(
            f"This file is a {sniffed.container.upper()} {sniffed.kind}, but a {wanted} is needed here.",
            code=CoreErrorCode.UPLOAD_WRONG_KIND,
            status=415,
            extra={"detected": sniffed.container},
        )
    try:
        result = probe(path, sniffed, _limits())
    except MediaError as exc:
        raise ApplicationError(exc.message, code=exc.code, status=422) from exc
    return CheckedFile(path, result, received.sha256, received.size_bytes, received.original_name)


def upload_record(*, actor: User, checked: CheckedFile, purpose: str, then: Callable[[Upload], T]) -> T:
    """Store a checked file, record it and run `then(upload)` in one transaction.

    Storage is not transactional, so the stored file is deleted again if anything in the
    transaction fails: a refused or failed upload leaves neither a row nor a file.
    """
    upload_id = uuid.uuid4()
    key = f"uploads/{actor.clinic_id}/{upload_id}/original.{checked.probe.container}"
    p = checked.probe

    def create(stored_key: str) -> T:
        upload = Upload.objects.create(
            id=upload_id,
            clinic_id=actor.member_clinic_id,
            owner=actor,
            kind=p.kind,
            purpose=purpose,
            original_name=checked.original_name,
            content_type=p.content_type,
            container=p.container,
            size_bytes=checked.size_bytes,
            sha256=checked.sha256,
            storage_key=stored_key,
            duration_seconds=p.duration_seconds,
            width=p.width,
            height=p.height,
            fps=p.fps,
            has_audio=p.has_audio,
        )
        return then(upload)

    return upload_store(path=checked.path, key=key, then=create)


def upload_rate_limit(*, actor: User) -> None:
    """Count one upload attempt for the actor."""
    rate_limit_hit(
        scope="upload",
        ident=str(actor.pk),
        limit=settings.UPLOAD_RATE_LIMIT,
        window_seconds=settings.UPLOAD_RATE_WINDOW_SECONDS,
    )


class Scratch:
    """A private temporary directory, removed on exit."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="candor-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
