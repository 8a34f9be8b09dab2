"""Generated test clips for the anonymization engine: the stock presenter plays the person.

The project's own drawn presenter depicts no real person, yet BlazeFace, the face mesh and dlib
all see a face in it, so the engine can be tested end to end without anyone's likeness.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from avatars.engine.motion import Pose, idle_motion
from avatars.engine.stock import StockPresenter
from tests.media_location import SHARED_MEDIA

BACKGROUND = (150, 176, 196)
MEDIA = SHARED_MEDIA


def presenter_frames(
    count: int, width: int = 320, height: int = 180, *, fps: int = 25, seed: int = 3
) -> list[NDArray[np.uint8]]:
    """The presenter talking: idle head motion, blinks, and a mouth opening and closing."""
    presenter = StockPresenter(width, height)
    poses = idle_motion(count, fps, seed=seed)
    frames = []
    for index, pose in enumerate(poses):
        opening = 0.5 + 0.5 * math.sin(index * 0.7)
        frames.append(presenter.draw((opening, 0.5, 0.2), pose).copy())
    return frames


def turned(frame: NDArray[np.uint8], degrees: float) -> NDArray[np.uint8]:
    """The presenter frame with the head tilted (a pose of its own)."""
    presenter = StockPresenter(frame.shape[1], frame.shape[0])
    return presenter.draw((0.2, 0.5, 0.2), Pose(0.0, 0.0, degrees, 0.0)).copy()


def slide_in(frames: Sequence[NDArray[np.uint8]], entering: int) -> list[NDArray[np.uint8]]:
    """Frames in which the picture enters from the right edge over the first `entering` frames
    (before that an empty background)."""
    result = []
    width = frames[0].shape[1]
    for index, frame in enumerate(frames):
        shift = round(width * max(0.0, 1.0 - index / entering))
        canvas = np.empty_like(frame)
        canvas[:] = BACKGROUND
        if shift < width:
            canvas[:, shift:] = frame[:, : width - shift]
        result.append(canvas)
    return result


def tone_burst(seconds: float, at: float, rate: int = 48_000) -> NDArray[np.float32]:
    """Silence with one loud 50 ms burst of a 700 Hz tone at `at` seconds (a sync marker)."""
    samples = np.zeros(round(seconds * rate), dtype=np.float32)
    start = round(at * rate)
    t = np.arange(round(0.05 * rate)) / rate
    samples[start : start + len(t)] = 0.6 * np.sin(2 * np.pi * 700 * t).astype(np.float32)
    return samples


def write_clip(
    path: Path,
    frames: Sequence[NDArray[np.uint8]],
    *,
    fps: int = 25,
    audio: NDArray[np.float32] | None = None,
    audio_rate: int = 48_000,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write frames (and mono audio) losslessly: FFV1 + FLAC in Matroska, with container metadata."""
    container = av.open(str(path), mode="w", format="matroska")
    for key, value in (metadata or {}).items():
        container.metadata[key] = value
    video = container.add_stream("ffv1", rate=Fraction(fps))
    video.width, video.height = frames[0].shape[1], frames[0].shape[0]
    video.pix_fmt = "bgr0"
    sound = None
    if audio is not None:
        sound = container.add_stream("flac", rate=audio_rate)
        sound.layout = "mono"
        sound.format = "s16"
    for frame in frames:
        for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    if sound is not None and audio is not None:
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        chunk = 4096
        for start in range(0, pcm.shape[1], chunk):
            piece = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + chunk]), format="s16", layout="mono"
            )
            piece.sample_rate = audio_rate
            piece.pts = start
            for packet in sound.encode(piece):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    container.close()
    return path


def write_rotated_mp4(path: Path, frames: Sequence[NDArray[np.uint8]], fps: int = 25) -> Path:
    """An MP4 storing upright `frames` sideways (turned a quarter anticlockwise) with a display
    matrix that turns them back, as phones record portrait video."""
    stored = [np.ascontiguousarray(np.rot90(frame, 1)) for frame in frames]
    container = av.open(str(path), mode="w", format="mp4")
    stream = container.add_stream("libx264", rate=Fraction(fps))
    stream.width, stream.height = stored[0].shape[1], stored[0].shape[0]
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "12"}
    for frame in stored:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    data = bytearray(path.read_bytes())
    # tkhd: matrix after version/flags, two times, track id, reserved, duration, 8 reserved bytes,
    # layer, group, volume, reserved: 40 bytes past the box type. This one shows a quarter turn
    # clockwise (what a phone held upright writes).
    matrix = data.find(b"tkhd") + 44
    values = [0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30]
    data[matrix : matrix + 36] = b"".join(struct.pack(">i", v) for v in values)
    path.write_bytes(bytes(data))
    return path


def decoded(path: Path) -> list[NDArray[np.uint8]]:
    """Every frame of a (small) video as RGB."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def decoded_audio(path: Path) -> tuple[NDArray[np.float32], int]:
    """The first audio track as mono float32 and its rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(chunks).astype(np.float32), stream.rate


def media(*parts: str) -> Path:
    """A file of ../shared/media, or a skip when this checkout has none."""
    import pytest

    path = MEDIA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} is absent (../shared/media is for internal evaluation and not in every checkout)"
        )
    return path
