"""Portrait mode: one photo animated by warping, with photo checks that say what to retake.

The photos are drawn by the engine's stock presenter, so no real person is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_media import CONTROL_SCRIPTS, decoded_frames, label_pixels, write_wav
from PIL import Image

from avatars.engine import (
    Disclosure,
    EnrollmentError,
    MediaInputError,
    PortraitAvatar,
    RenderResult,
    RenderSpec,
    ScriptNarration,
    render,
    synthesize,
)
from avatars.engine.motion import Pose
from avatars.engine.stock import StockPresenter

pytest.importorskip("dlib", reason="portrait mode needs dlib-bin for face detection")

SCRIPT = "Your blood pressure is a little high. Take one tablet every morning with water."


def _photo(path: Path, picture: np.ndarray) -> Path:
    Image.fromarray(picture).save(path)
    return path


def _presenter(width: int = 480, height: int = 640, mouth: float = 0.0) -> np.ndarray:
    return StockPresenter(width, height).draw((mouth, 0.5, 0.0), Pose(0, 0, 0, 0)).copy()


@pytest.fixture(scope="module")
def portrait_render(tmp_path_factory: pytest.TempPathFactory, disclosure: Disclosure) -> RenderResult:
    folder = tmp_path_factory.mktemp("portrait")
    photo = _photo(folder / "photo.png", _presenter())
    return render(
        RenderSpec(PortraitAvatar(photo), ScriptNarration(SCRIPT), disclosure, folder, width=384, height=288)
    )


def test_every_portrait_frame_is_labelled(portrait_render: RenderResult) -> None:
    frames = decoded_frames(portrait_render.video)
    assert len(frames) == portrait_render.frame_count and portrait_render.mode == "portrait"
    assert all(min(label_pixels(frame)) > 0 for frame in frames)


def test_the_portrait_is_in_sync_with_its_speech_and_not_with_other_speech(
    portrait_render: RenderResult, tmp_path: Path
) -> None:
    from bench.avatar_quality import measure

    controls = [
        write_wav(tmp_path / f"c{i}.wav", synthesize(t).samples) for i, t in enumerate(CONTROL_SCRIPTS)
    ]
    result = measure(
        portrait_render.video,
        controls=controls,
        segment=(portrait_render.narration_start, portrait_render.narration_end),
    )
    assert abs(result.lip_sync.best_offset_frames) <= 1
    assert result.beats_controls >= 9, result.controls
    assert result.lip_sync.best_correlation > 0.3


def _refused(tmp_path: Path, picture: np.ndarray, disclosure: Disclosure) -> None:
    photo = _photo(tmp_path / "photo.png", picture)
    render(
        RenderSpec(
            PortraitAvatar(photo),
            ScriptNarration("Hello."),
            disclosure,
            tmp_path / "out",
            width=256,
            height=144,
        )
    )


def test_a_photo_without_a_face_is_refused(tmp_path: Path, disclosure: Disclosure) -> None:
    with pytest.raises(EnrollmentError, match="No face was found"):
        _refused(tmp_path, np.full((400, 300, 3), 170, dtype=np.uint8), disclosure)


def test_a_photo_with_two_faces_is_refused(tmp_path: Path, disclosure: Disclosure) -> None:
    with pytest.raises(EnrollmentError, match="2 faces"):
        _refused(tmp_path, np.hstack([_presenter(320, 320), _presenter(320, 320)]), disclosure)


def test_a_photo_with_an_open_mouth_is_refused(tmp_path: Path, disclosure: Disclosure) -> None:
    with pytest.raises(EnrollmentError, match="lips closed"):
        _refused(tmp_path, _presenter(mouth=0.9), disclosure)


def test_a_photo_with_a_tiny_face_is_refused(tmp_path: Path, disclosure: Disclosure) -> None:
    canvas = np.full((600, 800, 3), 190, dtype=np.uint8)
    canvas[240:360, 340:500] = _presenter(160, 120)
    with pytest.raises(EnrollmentError, match="too small"):
        _refused(tmp_path, canvas, disclosure)


def test_a_file_that_is_not_a_photo_is_refused(tmp_path: Path, disclosure: Disclosure) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(MediaInputError, match="not a readable photo"):
        render(
            RenderSpec(
                PortraitAvatar(photo),
                ScriptNarration("Hello."),
                disclosure,
                tmp_path / "out",
                width=256,
                height=144,
            )
        )
