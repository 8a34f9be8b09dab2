"""The anonymization engine end to end, on generated clips (the stock presenter plays the person).

dlib's HOG detector is the judge throughout: a different model from the BlazeFace detectors the
engine uses to find faces, so a face it finds in an output frame is one the engine left.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from anonymize_clips import (
    BACKGROUND,
    decoded,
    decoded_audio,
    presenter_frames,
    slide_in,
    tone_burst,
    write_clip,
    write_rotated_mp4,
)
from numpy.typing import NDArray

from avatars.engine.anonymize import (
    AnonymizeCancelled,
    AnonymizeError,
    AnonymizeResult,
    AnonymizeSpec,
    RedactionBox,
    anonymize,
)
from avatars.engine.anonymize.replace import MASK_COLOR, REDACTION_COLOR
from avatars.engine.speech import synthesize
from core.media.faces import detect_faces

FRAMES = 40


def faces_left(path: Path) -> list[int]:
    """Indices of output frames in which dlib (upsampling small pictures) still finds a face."""
    return [i for i, frame in enumerate(decoded(path)) if detect_faces(frame, thorough=True)]


def face_centre(frame: NDArray[np.uint8]) -> tuple[int, int]:
    face = detect_faces(frame, thorough=True)[0]
    return (face.box[0] + face.box[2]) // 2, (face.box[1] + face.box[3]) // 2


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.6 s of the presenter talking, with speech, and identifying metadata in the container."""
    speech = synthesize("Take one tablet every morning with water.")
    frames = presenter_frames(FRAMES)
    return write_clip(
        tmp_path_factory.mktemp("talking") / "consultation.mkv",
        frames,
        audio=speech.samples[: round(FRAMES / 25 * speech.sample_rate)],
        audio_rate=speech.sample_rate,
        metadata={"title": "Jane Roe, MRN 0012345", "comment": "recorded in room 4"},
    )


@pytest.fixture(scope="module")
def masked(
    talking: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AnonymizeResult, list[tuple[float, str]]]:
    reports: list[tuple[float, str]] = []
    result = anonymize(
        AnonymizeSpec(
            input=talking, output=tmp_path_factory.mktemp("masked") / "out.mp4", mode="mask", seed=5
        ),
        progress=lambda fraction, stage: reports.append((fraction, stage)),
    )
    return result, reports


@pytest.fixture(scope="module")
def presenter_face() -> NDArray[np.float64]:
    """The presenter's 128-d face embedding, enrolled from a frame the test video does not contain."""
    from avatars.engine.anonymize import identity

    frame = presenter_frames(60, seed=11)[55]
    return identity.embed(frame, detect_faces(frame, thorough=True)[0])


def test_every_frame_of_a_talking_face_is_replaced(
    masked: tuple[AnonymizeResult, list[tuple[float, str]]],
) -> None:
    result, _ = masked
    assert result.frames == FRAMES
    assert faces_left(result.output) == []
    [track] = result.tracks
    assert track.replaced_frames == FRAMES and track.kept_frames == 0


def test_the_mask_covers_the_face_in_its_solid_colour(
    talking: Path, masked: tuple[AnonymizeResult, list[tuple[float, str]]]
) -> None:
    result, _ = masked
    for original, output in zip(decoded(talking)[::10], decoded(result.output)[::10], strict=True):
        x, y = face_centre(original)
        assert np.abs(output[y, x].astype(int) - MASK_COLOR).max() <= 8


def test_the_output_is_a_fresh_h264_aac_mp4_without_the_input_metadata(
    masked: tuple[AnonymizeResult, list[tuple[float, str]]],
) -> None:
    result, _ = masked
    with av.open(str(result.output)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        tags = " ".join(f"{k}={v}" for k, v in container.metadata.items()).lower()
        for stream in container.streams:
            tags += " ".join(f"{k}={v}" for k, v in stream.metadata.items()).lower()
    assert "jane" not in tags and "0012345" not in tags and "room 4" not in tags


def test_progress_rises_to_one_through_the_stages(
    masked: tuple[AnonymizeResult, list[tuple[float, str]]],
) -> None:
    _, reports = masked
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [stage for _, stage in reports][0] == "voice" and "faces" in {stage for _, stage in reports}


def test_the_patients_speech_is_changed_and_measured(
    talking: Path, masked: tuple[AnonymizeResult, list[tuple[float, str]]]
) -> None:
    result, _ = masked
    assert result.voice.has_audio and result.voice.anonymized_seconds > 0.5
    assert result.voice.kept_seconds == 0
    assert result.voice.anonymized_similarity is not None and result.voice.anonymized_similarity < 0.99
    samples, rate = decoded_audio(result.output)
    assert rate == 16_000 and abs(len(samples) / rate - FRAMES / 25) < 0.1


def test_the_independent_check_runs_and_finds_no_leak(
    masked: tuple[AnonymizeResult, list[tuple[float, str]]],
) -> None:
    result, _ = masked
    assert result.checked_frames >= 1
    assert result.leaks == ()
    assert any("HIPAA" in line for line in result.not_handled)


def test_blur_and_synthetic_modes_leave_no_face_dlib_finds_as_the_person(
    talking: Path, tmp_path: Path
) -> None:
    originals = decoded(talking)
    for mode in ("blur", "synthetic"):
        result = anonymize(AnonymizeSpec(input=talking, output=tmp_path / f"{mode}.mp4", mode=mode, seed=2))
        outputs = decoded(result.output)
        assert len(outputs) == FRAMES
        for original, output in zip(originals[::4], outputs[::4], strict=True):
            found = detect_faces(output, thorough=True)
            if mode == "blur":
                assert found == []
            else:
                # The drawn face may be seen as a face: it must not be the presenter, and it
                # must differ from it where the presenter's face was.
                x, y = face_centre(original)
                assert (
                    np.abs(
                        output[y - 5 : y + 5, x - 5 : x + 5].astype(int)
                        - original[y - 5 : y + 5, x - 5 : x + 5]
                    ).mean()
                    > 10
                )
        assert result.tracks[0].replaced_frames == FRAMES
        if mode == "synthetic":
            assert result.tracks[0].output_distance is not None
            assert all(f.kind != "untracked" for f in result.residual_faces)


def test_the_enrolled_clinician_is_left_as_recorded(
    talking: Path, presenter_face: NDArray[np.float64], tmp_path: Path
) -> None:
    result = anonymize(
        AnonymizeSpec(input=talking, output=tmp_path / "kept.mp4", keep_faces=(presenter_face,), seed=1)
    )
    [track] = result.tracks
    assert track.kept_frames == FRAMES and track.replaced_frames == 0
    assert track.keep_distances is not None and track.keep_distances[1] < 0.5
    for original, output in zip(decoded(talking), decoded(result.output), strict=True):
        # Only H.264's own loss remains.
        assert np.abs(original.astype(int) - output).mean() < 3


def test_a_face_that_is_not_the_enrolled_one_is_replaced(
    talking: Path, presenter_face: NDArray[np.float64], tmp_path: Path
) -> None:
    someone_else = presenter_face + 0.2
    result = anonymize(
        AnonymizeSpec(
            input=talking, output=tmp_path / "other.mp4", mode="mask", keep_faces=(someone_else,), seed=1
        )
    )
    [track] = result.tracks
    assert track.replaced_frames == FRAMES and track.kept_frames == 0
    assert track.keep_distances is not None and track.keep_distances[0] > 0.5
    assert faces_left(result.output) == []


def test_a_face_entering_the_picture_is_covered_before_the_detectors_find_it(tmp_path: Path) -> None:
    from avatars.engine.anonymize.detect import FaceDetector
    from avatars.engine.anonymize.track import half_size

    frames = slide_in(presenter_frames(30), entering=20)
    first_detected = next(
        i for i, frame in enumerate(frames) if FaceDetector().detect(half_size(frame), scale=2.0)
    )
    path = write_clip(tmp_path / "entering.mkv", frames)
    result = anonymize(AnonymizeSpec(input=path, output=tmp_path / "out.mp4", mode="mask", seed=1))
    [track] = result.tracks
    assert track.first_frame < first_detected
    assert faces_left(result.output) == []


def test_frames_in_which_the_face_is_briefly_lost_are_filled(tmp_path: Path) -> None:
    import cv2

    frames = presenter_frames(30)
    lost = (14, 15)
    for index in lost:
        # A whip pan: the detectors and the mesh see no face in these two frames.
        frames[index] = cv2.blur(frames[index], (61, 1))
    path = write_clip(tmp_path / "lost.mkv", frames)
    result = anonymize(AnonymizeSpec(input=path, output=tmp_path / "out.mp4", mode="mask", seed=1))
    [track] = result.tracks
    assert track.filled_frames >= 1 and track.replaced_frames == 30
    outputs = decoded(result.output)
    x, y = face_centre(frames[13])
    for index in lost:
        assert np.abs(outputs[index][y, x].astype(int) - MASK_COLOR).max() <= 8


def test_a_redaction_box_is_filled_during_its_time_only(talking: Path, tmp_path: Path) -> None:
    box = RedactionBox((0.0, 0.7, 0.3, 1.0), start=0.4, end=0.8)
    result = anonymize(
        AnonymizeSpec(input=talking, output=tmp_path / "redacted.mp4", mode="blur", redactions=(box,), seed=1)
    )
    assert result.redacted_frames == 11  # frames at 0.40, 0.44, ... 0.80 s
    for index, frame in enumerate(decoded(result.output)):
        corner = frame[140:175, 5:90].astype(int)
        black = np.abs(corner - REDACTION_COLOR).max() <= 12
        assert black == (0.4 <= index / 25 <= 0.8), index


def test_the_label_is_burned_into_every_frame_and_leaves_the_check_clean(tmp_path: Path) -> None:
    frames = [np.full((144, 256, 3), BACKGROUND, dtype=np.uint8) for _ in range(8)]
    clip = write_clip(tmp_path / "empty.mkv", frames, audio=None)
    plain = anonymize(AnonymizeSpec(input=clip, output=tmp_path / "plain.mp4", mode="mask", seed=1))
    labelled = anonymize(
        AnonymizeSpec(input=clip, output=tmp_path / "label.mp4", mode="mask", seed=1, label="Anonymized")
    )
    assert labelled.residual_faces == ()
    for before, after in zip(decoded(plain.output), decoded(labelled.output), strict=True):
        corner = np.abs(after[5:25, 5:60].astype(int) - before[5:25, 5:60].astype(int))
        assert corner.max() > 60  # white text on a dark box where the plain output is background
        assert np.abs(after[100:, 150:].astype(int) - before[100:, 150:].astype(int)).max() <= 12


def test_sound_stays_in_step_with_the_picture(tmp_path: Path) -> None:
    empty = [np.full((144, 256, 3), BACKGROUND, dtype=np.uint8) for _ in range(50)]
    path = write_clip(tmp_path / "sync.mkv", empty, audio=tone_burst(2.0, at=1.0))
    result = anonymize(AnonymizeSpec(input=path, output=tmp_path / "out.mp4", seed=1))
    samples, rate = decoded_audio(result.output)
    onset = int(np.argmax(np.abs(samples) > 0.05)) / rate
    # AAC adds its own priming delay of a few ms; a frame is 40 ms.
    assert abs(onset - 1.0) < 0.03
    assert abs(len(samples) / rate - 2.0) < 0.05
    assert result.tracks == () and result.frames == 50


def test_a_portrait_phone_video_comes_out_upright_and_anonymized(tmp_path: Path) -> None:
    upright = presenter_frames(20, width=180, height=320)
    path = write_rotated_mp4(tmp_path / "phone.mp4", upright)
    result = anonymize(AnonymizeSpec(input=path, output=tmp_path / "out.mp4", mode="mask", seed=1))
    assert (result.width, result.height) == (180, 320)
    assert len(result.tracks) == 1 and faces_left(result.output) == []


def test_cancelling_from_the_progress_callback_stops_and_leaves_no_file(
    talking: Path, tmp_path: Path
) -> None:
    output = tmp_path / "cancelled.mp4"

    def progress(fraction: float, stage: str) -> None:
        if stage == "faces" and fraction > 0.2:
            raise AnonymizeCancelled("The patient withdrew consent.")

    with pytest.raises(AnonymizeCancelled):
        anonymize(AnonymizeSpec(input=talking, output=output, seed=1), progress=progress)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "code"),
    [(None, "file_missing"), (b"", "file_missing"), (b"\x00\x01garbage" * 300, "file_corrupt")],
)
def test_unreadable_input_is_refused_with_a_reason(tmp_path: Path, content: bytes | None, code: str) -> None:
    source = tmp_path / "upload.mp4"
    if content is not None:
        source.write_bytes(content)
    with pytest.raises(AnonymizeError) as caught:
        anonymize(AnonymizeSpec(input=source, output=tmp_path / "out.mp4"))
    assert caught.value.code == code and "upload" in caught.value.message
    assert not (tmp_path / "out.mp4").exists()


def test_a_file_without_video_is_refused(tmp_path: Path) -> None:
    from engine_media import write_wav

    source = write_wav(tmp_path / "voice.wav", tone_burst(1.0, at=0.5))
    with pytest.raises(AnonymizeError) as caught:
        anonymize(AnonymizeSpec(input=source, output=tmp_path / "out.mp4"))
    assert caught.value.code == "video_missing"


@pytest.mark.parametrize(
    "changes",
    [
        {"mode": "pixelate"},
        {"keep_faces": (np.zeros(64),)},
        {"keep_voice": np.zeros(128)},
        {"redactions": (RedactionBox((0.1, 0.1, 1.4, 0.5)),)},
        {"redactions": (RedactionBox((0.1, 0.1, 0.4, 0.5), start=3.0, end=1.0),)},
    ],
)
def test_a_contradictory_request_is_refused_before_any_work(
    talking: Path, tmp_path: Path, changes: dict[str, object]
) -> None:
    spec = AnonymizeSpec(input=talking, output=tmp_path / "out.mp4", **changes)  # type: ignore[arg-type]
    with pytest.raises(AnonymizeError) as caught:
        anonymize(spec)
    assert caught.value.code == "invalid_spec"
    assert not (tmp_path / "out.mp4").exists()


def test_the_original_can_never_be_overwritten(talking: Path) -> None:
    with pytest.raises(AnonymizeError) as caught:
        anonymize(AnonymizeSpec(input=talking, output=talking))
    assert caught.value.code == "invalid_spec"


def test_the_engine_imports_no_web_framework() -> None:
    code = (
        "import sys; import avatars.engine.anonymize as a; a.anonymize; "
        "import avatars.engine.anonymize.pipeline, avatars.engine.anonymize.voice; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'channels', 'rest_framework')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[4]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": f"{root}/platform:{root}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
