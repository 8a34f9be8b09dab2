"""Portrait mode on real photos: the mesh-driven warp, and photo checks that say what to retake.

Real portraits come from ../shared/media/faces/named (internal evaluation data, never copied into
the repository); the tests skip when it is absent.
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
from tests.media_location import SHARED_MEDIA, skip_reason_with_how_to

pytest.importorskip("dlib", reason="portrait mode needs dlib-bin for face detection")
pytest.importorskip("ai_edge_litert", reason="portrait mode needs ai-edge-litert for the face mesh")

NAMED = SHARED_MEDIA / "faces" / "named"
CLOSED_LIPS = NAMED / "train" / "rose_leslie" / "img2.jpg"
SMILE_WITH_TEETH = NAMED / "train" / "biden" / "biden2.jpg"
OPEN_MOUTH = NAMED / "train" / "obama" / "obama2.jpg"
TWO_PEOPLE = NAMED / "test" / "obama_and_biden.jpg"
SCRIPT = "Your blood pressure is a little high. Take one tablet every morning with water."

needs_photos = pytest.mark.skipif(
    not CLOSED_LIPS.is_file(), reason=skip_reason_with_how_to(f"real portraits not found in {NAMED}")
)


def _check(path: Path) -> None:
    from avatars.engine.media import read_image
    from avatars.engine.portrait import check_photo
    from core.media.faces import detect_faces

    rgb = read_image(path)
    check_photo(path.name, rgb, detect_faces(rgb, thorough=True))


def _saved(path: Path, picture: np.ndarray | Image.Image) -> Path:
    (picture if isinstance(picture, Image.Image) else Image.fromarray(picture)).save(path)
    return path


@needs_photos
@pytest.mark.parametrize("photo", [CLOSED_LIPS, SMILE_WITH_TEETH], ids=["closed lips", "smile with teeth"])
def test_closed_and_smiling_photos_are_accepted_in_colour_and_greyscale(photo: Path, tmp_path: Path) -> None:
    _check(photo)
    _check(_saved(tmp_path / "grey.png", Image.open(photo).convert("L")))


@needs_photos
def test_a_photo_with_an_open_mouth_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnrollmentError, match="mouth is open") as caught:
        _check(OPEN_MOUTH)
    assert caught.value.code == "mouth_open"
    with pytest.raises(EnrollmentError, match="mouth is open"):
        _check(_saved(tmp_path / "grey.png", Image.open(OPEN_MOUTH).convert("L")))


@needs_photos
def test_a_photo_with_two_people_is_refused() -> None:
    with pytest.raises(EnrollmentError, match=r"\d faces appear"):
        _check(TWO_PEOPLE)


@needs_photos
def test_a_photo_with_a_tiny_face_is_refused(tmp_path: Path) -> None:
    small = Image.open(CLOSED_LIPS).convert("RGB")
    small.thumbnail((140, 140))
    canvas = Image.new("RGB", (900, 700), (190, 190, 190))
    canvas.paste(small, (380, 280))
    with pytest.raises(EnrollmentError, match="too small"):
        _check(_saved(tmp_path / "small.png", canvas))


def test_a_photo_without_a_face_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnrollmentError, match="No face was found"):
        _check(_saved(tmp_path / "plain.png", np.full((400, 300, 3), 170, dtype=np.uint8)))


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


@pytest.fixture(scope="module")
def source() -> object:
    if not CLOSED_LIPS.is_file():
        pytest.skip(skip_reason_with_how_to(f"real portraits not found in {NAMED}"))
    from avatars.engine.portrait import PortraitSource

    return PortraitSource(CLOSED_LIPS, 640, 480)


STILL = Pose(0, 0, 0, 0)


def _frame(source: object, opening: float, pose: Pose = STILL) -> np.ndarray:
    return next(iter(source.frames(np.array([[opening, 0.5, 0.0]]), [pose]))).copy()  # type: ignore[attr-defined]


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_a_still_frame_is_the_photo_itself(source: object) -> None:
    assert np.array_equal(_frame(source, 0.0), source.base)  # type: ignore[attr-defined]


def test_the_real_lips_part_with_a_dark_mouth_between_them(source: object) -> None:
    # Between the photo's own lips (the lip line found from the mesh) the opened frame shows a dark
    # cavity; the chin below has moved down (the lower lip and jaw were warped, not painted).
    origin, down, half = source.origin, source.down, source.half_width  # type: ignore[attr-defined]
    closed, opened = _gray(_frame(source, 0.0)), _gray(_frame(source, 1.0))
    mouth = origin + down * half * 0.25
    x, y = int(round(mouth[0])), int(round(mouth[1]))
    assert opened[y - 1 : y + 2, x - 2 : x + 3].mean() < 0.6 * closed[y - 1 : y + 2, x - 2 : x + 3].mean()
    # The lower lip and chin below it show the same pixels, moved down by about the jaw drop.
    samples = np.linspace(0.0, 2.0, 201)
    points = [origin + down * half * t for t in samples]

    def profile(image: np.ndarray) -> np.ndarray:
        return np.array(
            [
                image[
                    int(round(p[1])) - 1 : int(round(p[1])) + 2, int(round(p[0])) - 1 : int(round(p[0])) + 2
                ].mean()
                for p in points
            ]
        )

    from avatars.engine.portrait import JAW_DROP

    before, after = profile(closed), profile(opened)
    lower_face = slice(15, 90)  # the lower lip and chin, in hundredths of half the mouth's width
    errors = [np.abs(before[lower_face] - after[15 + k : 90 + k]).mean() for k in range(0, 100)]
    moved = int(np.argmin(errors)) / 100
    assert 0.8 * JAW_DROP < moved < 1.3 * JAW_DROP


def test_the_upper_teeth_are_drawn_under_the_upper_lip_on_a_closed_lip_photo(source: object) -> None:
    origin, down, half = source.origin, source.down, source.half_width  # type: ignore[attr-defined]
    opened = _gray(_frame(source, 1.0))
    teeth = origin + down * half * 0.04
    cavity = origin + down * half * 0.35
    assert opened[int(teeth[1]), int(teeth[0])] > opened[int(cavity[1]), int(cavity[0])] + 60


def test_a_blink_moves_the_upper_lid_down_and_leaves_the_brow(source: object) -> None:
    open_eyes, closed_eyes = _frame(source, 0.0), _frame(source, 0.0, Pose(0, 0, 0, 1.0))
    left, top, _, _ = source.roi  # type: ignore[attr-defined]
    for eye in source._eyes:  # type: ignore[attr-defined]
        x0, y0, x1, y1 = eye.box
        before = _gray(open_eyes[top + y0 : top + y1, left + x0 : left + x1])
        after = _gray(closed_eyes[top + y0 : top + y1, left + x0 : left + x1])
        middle = (eye.along > 0.35) & (eye.along < 0.65)
        iris = middle & (eye.across > eye.lid + 0.3 * (eye.lower - eye.lid)) & (eye.across < eye.lower - 1)
        above = middle & (eye.across < eye.crease - 2)
        assert np.abs(after[iris] - before[iris]).mean() > 10  # the lid now covers the eye
        assert np.abs(after[above] - before[above]).max() < 1  # brow and upper lid fold stay put


def test_head_motion_moves_the_face_and_not_the_frame_corners(source: object) -> None:
    still, swayed = _frame(source, 0.0), _frame(source, 0.0, Pose(0.01, 0.0, 1.5, 0.0))
    assert np.array_equal(still[:8, :8], swayed[:8, :8])
    origin = source.origin  # type: ignore[attr-defined]
    x, y = int(origin[0]), int(origin[1])
    assert (
        np.abs(_gray(still[y - 40 : y, x - 40 : x + 40]) - _gray(swayed[y - 40 : y, x - 40 : x + 40])).mean()
        > 2
    )


@pytest.fixture(scope="module")
def portrait_render(tmp_path_factory: pytest.TempPathFactory, disclosure: Disclosure) -> RenderResult:
    if not CLOSED_LIPS.is_file():
        pytest.skip(skip_reason_with_how_to(f"real portraits not found in {NAMED}"))
    folder = tmp_path_factory.mktemp("portrait")
    return render(
        RenderSpec(
            PortraitAvatar(CLOSED_LIPS), ScriptNarration(SCRIPT), disclosure, folder, width=480, height=360
        )
    )


def test_every_portrait_frame_is_labelled(portrait_render: RenderResult) -> None:
    frames = decoded_frames(portrait_render.video)
    assert len(frames) == portrait_render.frame_count and portrait_render.mode == "portrait"
    assert all(min(label_pixels(frame)) > 0 for frame in frames)


def test_a_real_portrait_is_in_sync_with_its_speech_and_not_with_other_speech(
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
    # 0.8 x the median of real GRID clips at lag 0 (0.43, BENCHMARKS.md) is 0.34.
    assert result.lip_sync.correlation > 0.34
