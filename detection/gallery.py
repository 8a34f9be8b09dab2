"""The clinic's gallery for a scan: each ready enrollment's face and voice templates.

Templates are computed from the enrollment's stored photo, footage or voice sample the first time a
scan needs them and kept in the cache under the upload's SHA-256 (the same file always gives the same
template), so a clinic's later scans do not recompute them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.cache import cache

from core.jobs import upload_fetch
from core.models import Upload

logger = logging.getLogger(__name__)

TEMPLATE_CACHE_SECONDS = 7 * 24 * 3600
FOOTAGE_FACE_SAMPLES = 12


def _template_key(kind: str, sha256: str) -> str:
    return f"detection:template:{kind}:{sha256}"


def gallery_templates_forget(sha256s: list[str]) -> None:
    """Drop the cached face and voice templates of these files (an enrollment's biometric data was
    destroyed: avatars.services.biometrics calls this once the deletion is committed)."""
    cache.delete_many([_template_key(kind, sha) for sha in sha256s for kind in ("face", "voice")])


def _cached(kind: str, upload: Upload, make: Callable[[], list[list[float]]]) -> list[list[float]]:
    key = _template_key(kind, upload.sha256)
    found: list[list[float]] | None = cache.get(key)
    if found is None:
        found = make()
        if found:  # a failure (no face, a model not yet installed) is tried again next scan
            cache.set(key, found, TEMPLATE_CACHE_SECONDS)
    return found


def _face_templates(upload: Upload, folder: Path, *, still: bool) -> list[list[float]]:
    from avatars.engine.errors import EngineError
    from core.media.errors import MediaError
    from detection.engine import DetectionError, face_templates

    def make() -> list[list[float]]:
        path = upload_fetch(upload=upload, scratch=folder)
        try:
            if still:
                return face_templates([path])
            from avatars.engine.statement import enrolled_face_embeddings

            return [
                [float(x) for x in row]
                for row in enrolled_face_embeddings(path, max_samples=FOOTAGE_FACE_SAMPLES)
            ]
        # An unusable enrollment (no face, a model not installed): that person has no face template.
        except (DetectionError, EngineError, MediaError) as error:
            logger.warning("no face template", extra={"upload": str(upload.id), "error": str(error)})
            return []

    return _cached("face", upload, make)


def _voice_template(upload: Upload, folder: Path) -> list[list[float]]:
    from detection.engine import DetectionError, voice_template

    def make() -> list[list[float]]:
        path = upload_fetch(upload=upload, scratch=folder)
        try:
            return [voice_template(path)]
        except DetectionError as error:  # no speech, or no voice model: not looked for by voice
            logger.warning("no voice template", extra={"upload": str(upload.id), "error": str(error)})
            return []

    return _cached("voice", upload, make)


def clinic_gallery(*, clinic_id: Any, scratch: Path) -> tuple[Any, ...]:
    """EnrolledPerson entries for the clinic's ready enrollments (one per clinician)."""
    from avatars.selectors import enrollments_for_gallery
    from detection.engine import EnrolledPerson

    faces: dict[str, list[list[float]]] = {}
    voices: dict[str, list[list[float]]] = {}
    labels: dict[str, str] = {}
    for number, enrollment in enumerate(enrollments_for_gallery(clinic_id=clinic_id)):
        folder = scratch / f"gallery-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        who = str(enrollment.clinician_id)
        assert enrollment.clinician is not None  # the gallery has no stock enrollments
        labels[who] = enrollment.clinician.printed_name
        if enrollment.photo is not None:
            faces.setdefault(who, []).extend(_face_templates(enrollment.photo, folder, still=True))
        if enrollment.footage is not None:
            faces.setdefault(who, []).extend(_face_templates(enrollment.footage, folder, still=False))
        voice_source = enrollment.voice or enrollment.footage
        if voice_source is not None:
            voices.setdefault(who, []).extend(_voice_template(voice_source, folder))
    return tuple(
        EnrolledPerson(
            who, labels[who], face_embeddings=faces.get(who, []), voice_embeddings=voices.get(who, [])
        )
        for who in labels
        if faces.get(who) or voices.get(who)
    )
