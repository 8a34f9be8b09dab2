"""Streaming H.264 High + AAC MP4 writer with fast start (moov atom first), built on PyAV.

Frames and audio are encoded as they arrive, so memory stays flat however long the video is.
The result plays in every current browser (checked in headless Chromium by the test suite).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from numpy.typing import NDArray

from core.media.decode import AUDIO_RATE
from core.media.errors import MediaError

__all__ = ["AUDIO_RATE", "Mp4Writer", "even_size"]


class Mp4Writer:
    """Write RGB frames and mono float audio into a browser-playable MP4.

    Use as a context manager; `close()` flushes both encoders and writes the index at the front.
    Width and height must be even (a yuv420p requirement); `even_size()` rounds for callers. `fps`
    is best given exactly (`VideoInfo.rate`); a float is rounded to a fraction with a denominator of
    at most 1001.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float | Fraction = 25,
        with_audio: bool = True,
        audio_rate: int = AUDIO_RATE,
        crf: int = 23,
        preset: str = "veryfast",
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise MediaError(f"Output size must be positive and even, got {width}x{height}.")
        self.width = width
        self.height = height
        self.audio_rate = audio_rate
        self._container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        # A float rate (a `VideoInfo.fps`) is taken as the nearest NTSC-style fraction (30000/1001).
        rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
        self._video = self._container.add_stream("libx264", rate=rate)
        self._video.width = width
        self._video.height = height
        self._video.pix_fmt = "yuv420p"
        self._video.profile = "High"
        self._video.options = {"crf": str(crf), "preset": preset}
        self._audio = None
        self._audio_pts = 0
        if with_audio:
            self._audio = self._container.add_stream("aac", rate=audio_rate)
            self._audio.layout = "mono"
            self._audio.bit_rate = 96_000
        self.frames_written = 0

    def write_frame(self, rgb: NDArray[np.uint8]) -> None:
        """Encode one HxWx3 uint8 RGB frame of exactly the writer's size."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise MediaError(
                f"Frame must be {self.height}x{self.width}x3 uint8, got {rgb.shape} {rgb.dtype}."
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def write_audio(self, samples: NDArray[np.float32]) -> None:
        """Encode mono float32 samples in [-1, 1] at the writer's audio rate."""
        if self._audio is None:
            raise MediaError("This writer was opened without an audio track.")
        data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0).reshape(1, -1)
        if data.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
        frame.sample_rate = self.audio_rate
        frame.pts = self._audio_pts
        frame.time_base = Fraction(1, self.audio_rate)
        self._audio_pts += data.shape[1]
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoders and finish the file."""
        if self._container is None:
            return
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            for packet in self._audio.encode(None):
                self._container.mux(packet)
        self._container.close()
        self._container = None  # type: ignore[assignment]

    def abort(self) -> None:
        """Close without flushing; the partial file is the caller's to delete."""
        if self._container is not None:
            self._container.close()
            self._container = None  # type: ignore[assignment]

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def even_size(width: int, height: int, *, max_height: int | None = None) -> tuple[int, int]:
    """Scale (keeping aspect) to at most `max_height` and round both sides down to even numbers."""
    if max_height is not None and height > max_height:
        width = round(width * max_height / height)
        height = max_height
    return max(2, width - width % 2), max(2, height - height % 2)
