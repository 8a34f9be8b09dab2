"""Tiny generated media for engine tests: nothing here depicts a real person."""

from __future__ import annotations

import wave
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from tests.media_location import SHARED_MEDIA

GRID = SHARED_MEDIA / "talking" / "grid"

#: Other speech for lip-sync controls: a video should be in sync with its own narration, not these.
CONTROL_SCRIPTS = [
    "The weather today is sunny with a light breeze from the west.",
    "Please remember to bring your insurance card to every appointment.",
    "Physical therapy helps your knee recover after surgery.",
    "Drink plenty of fluids and rest for the next few days.",
    "Our clinic opens at eight in the morning on weekdays.",
    "Wash your hands before and after changing the bandage.",
    "Vaccines are safe and help protect your whole family.",
    "Stretch gently each morning to keep your back flexible.",
    "A balanced diet includes vegetables, fruit and whole grains.",
    "If the pain gets worse, go to the emergency department.",
]


def write_wav(path: Path, samples: NDArray[np.float32], rate: int = 48_000) -> Path:
    """Write mono float samples as 16-bit PCM WAV."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def write_video(path: Path, frames: Iterable[NDArray[np.uint8]], *, fps: int = 25) -> Path:
    """Write RGB frames losslessly (FFV1 in Matroska), which allows any size down to 1x1."""
    container = av.open(str(path), mode="w", format="matroska")
    stream = None
    for frame in frames:
        if stream is None:
            stream = container.add_stream("ffv1", rate=Fraction(fps))
            stream.width, stream.height = frame.shape[1], frame.shape[0]
            stream.pix_fmt = "bgr0"
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    assert stream is not None
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return path


def top_level_boxes(path: Path) -> list[str]:
    """Names of an MP4 file's top-level boxes, in file order."""
    data = path.read_bytes()
    names, position = [], 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        names.append(data[position + 4 : position + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        if size < 8:
            break
        position += size
    return names


def decoded_frames(path: Path) -> list[NDArray[np.uint8]]:
    """Every video frame of a file as RGB (tiny test videos only)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def decoded_audio(path: Path) -> tuple[NDArray[np.float32], int]:
    """The first audio track as mono float32 and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(chunks).astype(np.float32), stream.rate


def label_pixels(frame: NDArray[np.uint8]) -> tuple[int, int, int]:
    """Counts of amber-bar, dark-box and white-text pixels in the top quarter of a frame.

    Judged from colour alone, independently of how the engine draws the label.
    """
    band = frame[: frame.shape[0] // 4].astype(np.int16)
    red, green, blue = band[..., 0], band[..., 1], band[..., 2]
    amber = (red > 200) & (green > 130) & (green < 215) & (blue < 100)
    dark = (red < 60) & (green < 60) & (blue < 70)
    white = (red > 215) & (green > 215) & (blue > 215)
    return int(amber.sum()), int(dark.sum()), int(white.sum())
