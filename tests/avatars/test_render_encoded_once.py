"""The published render is the engine's one encode, with the watermark put on frame by frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

import core.media.mp4
from core.models import JobStatus
from provenance.engine.watermark import content_id_hex, detect_image, detect_video
from provenance.models import ProvenanceRecord
from provenance.services import output_manifest, watermark_key
from tests.avatars.test_studio import _stock_video


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every MP4 encoder opened while the test runs (the path it writes)."""
    opened: list[Path] = []
    original = core.media.mp4.Mp4Writer

    class CountingWriter(original):  # type: ignore[misc, valid-type]
        def __init__(self, path: Any, **options: Any) -> None:
            opened.append(Path(path))
            super().__init__(path, **options)

    monkeypatch.setattr(core.media.mp4, "Mp4Writer", CountingWriter)
    return opened


def test_a_render_job_encodes_its_video_once_and_the_published_file_carries_the_registered_mark(
    studio: Any, django_capture_on_commit_callbacks: Any, encodes: list[Path]
) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    assert video.job.status == JobStatus.SUCCEEDED, video.job.error_message
    assert len(encodes) == 1, f"the render job encoded video {len(encodes)} times: {encodes}"
    published = default_storage.path(video.video_key)
    found = detect_video(published, key=watermark_key(), max_seconds=None)
    record = ProvenanceRecord.objects.get(video_id=video.id, output_kind="avatar_video")
    assert found.found and content_id_hex(found.content_id or 0) == record.content_id
    manifest = output_manifest(Path(published)).consent
    assert manifest is not None and manifest.content_id == record.content_id


def test_the_published_poster_carries_its_own_registered_mark(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    found = detect_image(default_storage.path(video.poster_key), key=watermark_key())
    record = ProvenanceRecord.objects.get(video_id=video.id, output_kind="poster")
    video_record = ProvenanceRecord.objects.get(video_id=video.id, output_kind="avatar_video")
    assert found.found and content_id_hex(found.content_id or 0) == record.content_id
    assert record.content_id != video_record.content_id
