"""Issue 9 finding 18: enrolled material without a voice makes the consent statement check fail with
a reason the clinician can act on; it never raises (no Django here).

The first tests use generated media (a face embedding stands in for the likeness, so no real face
is needed); the last one uses a real talking-head clip from ../shared/media and skips without it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from avatars.engine.statement import StatementCheckResult, StatementCheckSpec, check_consent_statement
from tests.media_location import SHARED_MEDIA

RETALKING = SHARED_MEDIA / "talking" / "retalking"
NO_VOICE = "no enrolled voice to compare the statement with"
RATE = 48_000


@pytest.fixture(autouse=True)
def _encoders() -> None:
    pytest.importorskip("resemblyzer", reason="resemblyzer is not installed")
    pytest.importorskip("dlib", reason="dlib-bin is not installed")


def write_clip(
    path: Path, frames: list[NDArray[np.uint8]], fps: Fraction, sound: NDArray[np.float32] | None
) -> Path:
    """Frames losslessly (FFV1) and, if given, mono sound (PCM) in Matroska; no sound track otherwise."""
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("ffv1", rate=fps)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        audio = container.add_stream("pcm_s16le", rate=RATE) if sound is not None else None
        if audio is not None:
            audio.layout = "mono"
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None and sound is not None:
            pcm = (np.clip(sound, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
            chunk = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            chunk.sample_rate = RATE
            for packet in audio.encode(chunk):
                container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


def _frames(count: int = 40) -> list[NDArray[np.uint8]]:
    ys, xs = np.mgrid[0:96, 0:128]
    return [np.stack([(xs + i) % 256, ys % 256, (xs * ys) % 256], -1).astype(np.uint8) for i in range(count)]


def _speechlike(seconds: float) -> NDArray[np.float32]:
    """A voiced, syllable-paced sound (a tone swept and switched on and off four times a second)."""
    t = np.arange(int(seconds * RATE)) / RATE
    gate = (np.sin(2 * np.pi * 4 * t) > 0).astype(np.float32)
    return (0.3 * gate * np.sin(2 * np.pi * (140 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)).astype(np.float32)


def _fails_for_the_missing_voice(result: StatementCheckResult) -> None:
    assert not result.passed
    assert not result.voice_passed
    assert result.voice_similarity is None
    assert any(NO_VOICE in reason for reason in result.reasons), result.reasons


def test_silent_enrollment_footage_without_a_voice_sample_fails_the_check_with_a_reason(
    tmp_path: Path,
) -> None:
    """Issue 9 finding 18: footage with no sound track and no voice sample raised
    MediaInputError(audio_missing) instead of returning a failed check."""
    footage = write_clip(tmp_path / "enrollment.mkv", _frames(), Fraction(25), None)
    statement = write_clip(tmp_path / "statement.mkv", _frames(), Fraction(25), _speechlike(1.6))

    result = check_consent_statement(
        StatementCheckSpec(statement=statement, enrollment=footage, face_embeddings=[[0.0] * 128])
    )

    _fails_for_the_missing_voice(result)
    assert result.ledger_scores()["voice_passed"] is False


def test_a_voice_sample_without_speech_fails_the_check_with_a_reason(tmp_path: Path) -> None:
    """Issue 9 finding 18 (same fault): a voice sample that holds only silence raised
    EnrollmentError(no_speech) from the check instead of failing it."""
    footage = write_clip(tmp_path / "enrollment.mkv", _frames(), Fraction(25), _speechlike(1.6))
    silence = write_clip(tmp_path / "voice.mkv", _frames(5), Fraction(25), np.zeros(RATE, np.float32))
    statement = write_clip(tmp_path / "statement.mkv", _frames(), Fraction(25), _speechlike(1.6))

    result = check_consent_statement(
        StatementCheckSpec(
            statement=statement, enrollment=footage, voice_sample=silence, face_embeddings=[[0.0] * 128]
        )
    )

    _fails_for_the_missing_voice(result)


@pytest.mark.media
def test_a_real_statement_against_silent_footage_passes_the_face_and_fails_only_the_voice(
    tmp_path: Path,
) -> None:
    """Issue 9 finding 18: with real footage of the clinician (no sound track) the face is still
    matched and the result says why the voice could not be checked."""
    clip = RETALKING / "2.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (../shared/media is for internal evaluation only)")
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or 25).limit_denominator(1000)
        frames = [np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8) for f in container.decode(stream)]
    footage = write_clip(tmp_path / "enrollment.mkv", frames[: len(frames) // 2], fps, None)

    result = check_consent_statement(StatementCheckSpec(statement=clip, enrollment=footage))

    _fails_for_the_missing_voice(result)
    assert result.face_passed, result.reasons
