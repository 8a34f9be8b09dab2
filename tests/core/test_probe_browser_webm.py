"""A browser's MediaRecorder writes WebM whose header claims the container's millisecond clock
(1000/s) as the frame rate; the upload check measures the rate its frames really have (issue 12:
live consent statements are such files)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import ApplicationError
from core.uploads import Scratch, upload_check


def _webm(path: Path, *, header_rate: int, frame_ms: int, frames: int = 30) -> Path:
    import av

    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=header_rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 8, np.uint8), format="rgb24")
            frame.pts, frame.time_base = index * frame_ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_recorder_webm_with_a_millisecond_clock_is_accepted_at_its_real_rate(tmp_path: Path) -> None:
    video = _webm(tmp_path / "statement.webm", header_rate=1000, frame_ms=33)
    with Scratch() as scratch:
        checked = upload_check(
            file=SimpleUploadedFile("statement.webm", video.read_bytes()), kinds={"video"}, scratch=scratch
        )
    assert checked.probe.fps is not None and 25 < checked.probe.fps < 35


def test_a_video_whose_frames_really_come_too_fast_is_still_refused(tmp_path: Path) -> None:
    video = _webm(tmp_path / "fast.webm", header_rate=1000, frame_ms=2)
    with Scratch() as scratch, pytest.raises(ApplicationError) as refused:
        upload_check(
            file=SimpleUploadedFile("fast.webm", video.read_bytes()), kinds={"video"}, scratch=scratch
        )
    assert refused.value.code == "media_fps_too_high" and refused.value.status == 422
