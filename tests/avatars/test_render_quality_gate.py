"""The quality gate in the studio: a render is measured after it is made; one below the bar is held
back from review with the reason on its page, and the ledger keeps the figures either way."""

from __future__ import annotations

import json
from typing import Any

import pytest

from avatars.engine import quality as gates
from avatars.models import VideoStatus
from avatars.services import video_review
from consent.models import LedgerEntry
from core.errors import ApplicationError
from core.models import JobStatus
from tests.avatars.test_studio import _stock_video
from tests.support import signed_in_client


def _finished(video: Any) -> dict[str, Any]:
    entry = LedgerEntry.objects.get(event_type="render.finished", object_id=str(video.id))
    return dict(json.loads(entry.entry)["data"])


def test_a_stock_render_passes_the_gate_and_the_ledger_keeps_its_figures(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    assert video.job.status == JobStatus.SUCCEEDED, video.job.error_message
    assert video.status == VideoStatus.IN_REVIEW, video.quality_reason
    assert video.quality["lip_sync"] >= video.quality["lip_sync_min"]
    assert video.quality["identity_distance"] is None  # the stock presenter depicts no one
    finished = _finished(video)
    assert finished["quality_passed"] is True
    assert finished["quality"]["lip_sync_milli"] == round(video.quality["lip_sync"] * 1000)


def test_a_render_below_the_bar_is_held_with_its_reason_and_cannot_be_approved(
    studio: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bar no render can reach: the render, its measurement and the hold are all real.
    monkeypatch.setattr(gates, "LIP_SYNC_MIN", 1.01)
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    assert video.job.status == JobStatus.SUCCEEDED, video.job.error_message
    assert video.status == VideoStatus.HELD
    assert "mouth does not follow the speech" in video.quality_reason
    finished = _finished(video)
    assert finished["quality_passed"] is False and finished["quality"]["lip_sync_min_milli"] == 1010
    page = signed_in_client(studio.clinician).get(f"/videos/{video.id}/").content.decode()
    assert "Held back: below the quality bar" in page and "mouth does not follow the speech" in page
    assert 'id="review-button"' not in page
    with pytest.raises(ApplicationError, match="not waiting for review"):
        video_review(actor=studio.clinician, video_id=video.id, approve=True)
