"""The quality gate's measures on real talking-head clips: a real clip with its own sound passes,
the same pictures with another speaker's sound, a flickering face or another person are held
back, and the stock presenter passes without an enrollment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from avatars.engine import Disclosure, RenderSpec, ScriptNarration, StockAvatar, render
from avatars.engine import quality as gates
from avatars.engine.media import iter_video_frames, read_audio
from core.media.mp4 import Mp4Writer
from tests.media_location import SHARED_MEDIA

GRID = SHARED_MEDIA / "talking" / "grid"


def _clip(name: str) -> Path:
    path = GRID / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media is for internal evaluation, not in every checkout)")
    return path


def _frames(path: Path) -> list[NDArray[np.uint8]]:
    return [frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2] for frame in iter_video_frames(path)]


def _write(path: Path, frames: list[NDArray[np.uint8]], sound: NDArray[np.float32]) -> Path:
    height, width = frames[0].shape[:2]
    per_frame = 48_000 // 25
    sound = np.concatenate([sound, np.zeros(max(0, len(frames) * per_frame - len(sound)), np.float32)])
    with Mp4Writer(path, width=width, height=height, fps=25, crf=18) as writer:
        for index, frame in enumerate(frames):
            writer.write_frame(frame)
            writer.write_audio(sound[index * per_frame : (index + 1) * per_frame])
    return path


@pytest.fixture(scope="module")
def speaker() -> tuple[list[NDArray[np.uint8]], NDArray[np.float32]]:
    clip = _clip("bbaf2n.mpg")
    return _frames(clip), read_audio(clip)


@pytest.fixture(scope="module")
def reference() -> gates.EnrollmentReference:
    return gates.enrollment_reference_from_video(_clip("bbaf2n.mpg"))


def test_the_change_correlation_finds_a_known_lag() -> None:
    energy = np.convolve(np.random.default_rng(3).random(200), np.ones(3) / 3, mode="same")
    openings = np.roll(energy, -2)
    lags = {lag: gates.change_correlation(openings, energy, lag) for lag in range(-4, 5)}
    assert max(lags, key=lambda lag: lags[lag]) == 2 and lags[2] > 0.95


def test_a_real_speaker_with_their_own_sound_passes_against_their_own_footage(
    tmp_path: Path,
    speaker: tuple[list[NDArray[np.uint8]], NDArray[np.float32]],
    reference: gates.EnrollmentReference,
) -> None:
    frames, sound = speaker
    report = gates.assess_render(_write(tmp_path / "own.mp4", frames, sound), reference=reference)
    assert report.passed, report.reasons
    assert report.lip_sync is not None and report.lip_sync >= gates.LIP_SYNC_MIN


def test_the_same_pictures_with_another_speakers_sound_are_held_for_lip_sync(
    tmp_path: Path,
    speaker: tuple[list[NDArray[np.uint8]], NDArray[np.float32]],
    reference: gates.EnrollmentReference,
) -> None:
    frames, _ = speaker
    foreign = read_audio(_clip("lwbsza.mpg"))
    report = gates.assess_render(_write(tmp_path / "dubbed.mp4", frames, foreign), reference=reference)
    assert not report.passed
    assert any("mouth does not follow the speech" in reason for reason in report.reasons)


def _flickering(frames: list[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
    """A composite whose lower face does not match in colour, shown on every fourth frame of the
    second half: the face flickers."""
    points = gates._mesh_points(frames[0], None)
    assert points is not None
    top, bottom = int(points[1, 1]), int(points[152, 1])  # nose tip to chin
    left, right = int(points[:, 0].min()), int(points[:, 0].max())
    out = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        if index >= len(frames) // 2 and index % 4 == 0:
            patch = frame[top:bottom, left:right].astype(np.int16) + 30
            frame[top:bottom, left:right] = np.clip(patch, 0, 255).astype(np.uint8)
        out.append(frame)
    return out


def test_a_flickering_face_is_held_for_stability(
    tmp_path: Path,
    speaker: tuple[list[NDArray[np.uint8]], NDArray[np.float32]],
    reference: gates.EnrollmentReference,
) -> None:
    frames, sound = speaker
    report = gates.assess_render(
        _write(tmp_path / "flicker.mp4", _flickering(frames), sound), reference=reference
    )
    assert any("jumps or flickers" in reason for reason in report.reasons), report
    assert report.worst_change is not None and reference.worst_change is not None
    assert report.worst_change > gates.STABILITY_RATIO * reference.worst_change


def test_another_person_is_held_for_identity(tmp_path: Path, reference: gates.EnrollmentReference) -> None:
    other = _clip("sbia1a.mpg")
    report = gates.assess_render(
        _write(tmp_path / "other.mp4", _frames(other), read_audio(other)), reference=reference
    )
    assert any("does not look enough like" in reason for reason in report.reasons), report


def test_the_stock_presenter_passes_without_an_enrollment(tmp_path: Path) -> None:
    result = render(
        RenderSpec(
            avatar=StockAvatar(),
            narration=ScriptNarration(
                "Take one tablet every morning with water, and check your blood pressure twice a week."
            ),
            disclosure=Disclosure("AI video, not a real person.", "This video is computer made.", "End."),
            output_dir=tmp_path,
            width=640,
            height=360,
        )
    )
    report = gates.assess_render(result.video, reference=None)
    assert report.passed, report.reasons
    assert report.identity_distance is None and report.face_share >= gates.MIN_FACE_SHARE
