"""Footage mode on real footage: a GRID clip as a test clinician's enrollment (../shared/media).

The media are for internal evaluation only; nothing derived from them is written outside pytest's
temporary directory. Skipped where the folder is absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_media import GRID

from avatars.engine import Disclosure, FootageAvatar, RecordedNarration, RenderResult, RenderSpec, render

pytestmark = [
    pytest.mark.media,
    pytest.mark.skipif(not GRID.is_dir(), reason=f"real test media not present at {GRID}"),
]
pytest.importorskip("dlib", reason="quality is measured with dlib landmarks")

from bench.avatar_quality import VideoQuality, measure, reference_levels, track_face  # noqa: E402

ENROLLMENT = "lbbc2a.mpg"
NARRATION = "sbwe5n.mpg"
OTHER_SPEECH = GRID.parent / "retalking" / "speech1.wav"


@pytest.fixture(scope="module")
def real_levels() -> dict[str, Any]:
    return reference_levels(sorted(GRID.glob("*.mpg")))


@pytest.fixture(scope="module")
def footage_render(tmp_path_factory: pytest.TempPathFactory, disclosure: Disclosure) -> RenderResult:
    return render(
        RenderSpec(
            FootageAvatar(GRID / ENROLLMENT),
            RecordedNarration(GRID / NARRATION),
            disclosure,
            tmp_path_factory.mktemp("grid"),
            width=360,
            height=288,
        )
    )


@pytest.fixture(scope="module")
def footage_quality(footage_render: RenderResult) -> VideoQuality:
    controls = [p for p in sorted(GRID.glob("*.mpg")) if p.name not in (ENROLLMENT, NARRATION)]
    if OTHER_SPEECH.is_file():
        controls.append(OTHER_SPEECH)
    return measure(
        footage_render.video,
        audio=GRID / NARRATION,
        controls=controls,
        reference=GRID / ENROLLMENT,
        segment=(footage_render.narration_start, footage_render.narration_end),
    )


def test_real_clips_are_in_sync_with_their_own_audio_and_not_with_others(real_levels: dict[str, Any]) -> None:
    assert real_levels["median_lip_sync_best"] > 0.35
    assert abs(real_levels["median_control"]) < 0.1


def test_footage_lip_sync_reaches_80_percent_of_real_video(
    footage_quality: VideoQuality, real_levels: dict[str, Any]
) -> None:
    assert footage_quality.lip_sync.best_correlation >= 0.8 * real_levels["median_lip_sync_best"]


def test_footage_is_in_sync_with_its_narration_rather_than_other_speech(
    footage_quality: VideoQuality,
) -> None:
    assert len(footage_quality.controls) >= 9
    assert footage_quality.beats_controls >= len(footage_quality.controls) - 1, footage_quality.controls


def test_footage_audio_and_video_are_aligned_within_one_frame(footage_quality: VideoQuality) -> None:
    assert abs(footage_quality.lip_sync.best_offset_frames) <= 1


def test_footage_keeps_the_clinicians_identity(footage_quality: VideoQuality) -> None:
    enrollment = track_face(GRID / ENROLLMENT, embed_every=5).embeddings
    half = len(enrollment) // 2
    own_halves = float(np.median(np.linalg.norm(enrollment[half:] - enrollment[:half].mean(axis=0), axis=1)))
    assert footage_quality.identity is not None
    assert footage_quality.identity <= own_halves + 0.05


def test_footage_does_not_tremble_more_than_real_video(
    footage_quality: VideoQuality, real_levels: dict[str, Any]
) -> None:
    assert footage_quality.jitter <= 1.5 * real_levels["median_jitter"]
