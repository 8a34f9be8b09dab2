"""The anonymization run's threads: the voice beside the frames, the rendering worker's order and
errors, and what happens when one of them is slower or fails.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from anonymize_clips import BACKGROUND, decoded, decoded_audio, presenter_frames, tone_burst, write_clip

from avatars.engine.anonymize import AnonymizeError, AnonymizeSpec, anonymize, voice
from avatars.engine.anonymize.streams import Worker


def test_the_worker_runs_calls_in_order_on_its_own_thread() -> None:
    seen: list[tuple[int, str]] = []
    worker = Worker("test-worker")
    for index in range(20):
        worker.submit(lambda i: seen.append((i, threading.current_thread().name)), index)
    worker.finish()
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test-worker"}


def test_an_error_on_the_worker_is_raised_to_the_caller_and_later_calls_are_skipped() -> None:
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("broken frame")

    worker = Worker("test-worker")
    worker.submit(fail)
    time.sleep(0.2)
    with pytest.raises(ValueError, match="broken frame"):
        worker.submit(ran.append, 1)
    worker.abort()
    assert ran == []


def test_abort_skips_the_calls_still_waiting() -> None:
    ran: list[int] = []
    worker = Worker("test-worker")
    # The first call lasts until abort() has been asked for; the three behind it must not run.
    worker.submit(lambda: worker._skip.wait(10))
    for index in range(3):
        worker.submit(ran.append, index)
    worker.abort()
    assert ran == []


def test_sound_that_is_ready_after_the_last_frame_is_still_complete_and_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The voice thread finishing late (a slow server) changes neither the sound nor its timing."""
    empty = [np.full((144, 256, 3), BACKGROUND, dtype=np.uint8) for _ in range(50)]
    path = write_clip(tmp_path / "sync.mkv", empty, audio=tone_burst(2.0, at=1.0))
    prompt = anonymize(AnonymizeSpec(input=path, output=tmp_path / "prompt.mp4", seed=1))
    real = voice.anonymize_voice

    def slow(*args: object, **kwargs: object) -> voice.VoiceReport:
        time.sleep(3.0)  # longer than the 50 frames take
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(voice, "anonymize_voice", slow)
    late = anonymize(AnonymizeSpec(input=path, output=tmp_path / "late.mp4", seed=1))
    samples, rate = decoded_audio(late.output)
    onset = int(np.argmax(np.abs(samples) > 0.05)) / rate
    assert abs(onset - 1.0) < 0.03
    assert abs(len(samples) / rate - 2.0) < 0.05
    expected, _ = decoded_audio(prompt.output)
    assert np.array_equal(samples, expected)
    assert late.voice == prompt.voice


def test_a_failure_on_the_voice_thread_stops_the_run_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = presenter_frames(60)
    path = write_clip(tmp_path / "in.mkv", frames, audio=tone_burst(60 / 25, at=0.5))
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def broken(*args: object, **kwargs: object) -> voice.VoiceReport:
        raise AnonymizeError("The sound could not be changed.", code="voice_failed")

    monkeypatch.setattr(voice, "anonymize_voice", broken)
    with pytest.raises(AnonymizeError, match="could not be changed"):
        anonymize(AnonymizeSpec(input=path, output=out_dir / "out.mp4", seed=1))
    assert list(out_dir.iterdir()) == []


def test_repeated_runs_give_the_same_pictures(tmp_path: Path) -> None:
    """Decisions stay on the main thread in frame order: the threads' timing never shows."""
    frames = presenter_frames(30)
    path = write_clip(tmp_path / "in.mkv", frames, audio=tone_burst(30 / 25, at=0.5))
    first = anonymize(AnonymizeSpec(input=path, output=tmp_path / "a.mp4", mode="blur", seed=3))
    second = anonymize(AnonymizeSpec(input=path, output=tmp_path / "b.mp4", mode="blur", seed=3))
    for a, b in zip(decoded(first.output), decoded(second.output), strict=True):
        assert np.array_equal(a, b)
    assert first.tracks == second.tracks and first.residual_faces == second.residual_faces
