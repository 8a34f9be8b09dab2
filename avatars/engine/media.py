"""Reading input media (narration audio, enrollment footage, photos) with errors a person can act on.

The reading itself is the media toolkit's (`core.media.decode`); this module adds the render
engine's checks and words its errors for the clinician who supplied the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import MediaInputError
from avatars.engine.speech import SAMPLE_RATE
from core.media import decode
from core.media.decode import VideoInfo, open_input
from core.media.errors import MediaError

__all__ = ["MIN_VIDEO_SIDE", "VideoInfo", "iter_video_frames", "probe_video", "read_audio", "read_image"]

MIN_VIDEO_SIDE = 64


def _open(path: Path) -> Any:
    if not path.is_file():
        raise MediaInputError(f"The file '{path.name}' was not found; upload it again.", code="file_missing")
    if path.stat().st_size == 0:
        raise MediaInputError(f"The file '{path.name}' is empty; upload it again.", code="file_empty")
    try:
        return open_input(path)
    except MediaError as exc:
        raise MediaInputError(
            f"The file '{path.name}' is not a readable audio or video file (it may be damaged or cut short); "
            "export it again and re-upload.",
            code="file_corrupt",
        ) from exc


def read_audio(path: Path) -> NDArray[np.float32]:
    """Decode the first audio stream of a file to mono float32 at the engine's sample rate."""
    import av

    with _open(path) as container:
        if not container.streams.audio:
            raise MediaInputError(f"The file '{path.name}' has no sound track.", code="audio_missing")
        try:
            samples = decode.read_audio(container, rate=SAMPLE_RATE)
        except av.FFmpegError as exc:
            raise MediaInputError(
                f"The sound in '{path.name}' could not be decoded (the file may be damaged).",
                code="file_corrupt",
            ) from exc
    if samples is None:
        raise MediaInputError(f"The sound track of '{path.name}' is empty.", code="audio_missing")
    return samples


def probe_video(path: Path) -> VideoInfo:
    """Check that a file is a decodable video of usable size and return its basic facts.

    The size is the first decoded picture's (the stream header's may differ from it).
    """
    import av

    with _open(path) as container:
        if not container.streams.video:
            raise MediaInputError(f"The file '{path.name}' contains no video.", code="video_missing")
        try:
            first = next(container.decode(container.streams.video[0]))
        except (StopIteration, av.FFmpegError) as exc:
            raise MediaInputError(
                f"No picture could be decoded from '{path.name}'; the file may be damaged. Export it again.",
                code="file_corrupt",
            ) from exc
        width, height = first.width, first.height
        if min(width, height) < MIN_VIDEO_SIDE:
            raise MediaInputError(
                f"The video '{path.name}' is only {width}x{height} pixels; record at least 640x480 "
                "(720p or better is best).",
                code="video_too_small",
            )
        return replace(decode.container_video_info(container), width=int(width), height=int(height))


def iter_video_frames(path: Path) -> Iterator[NDArray[np.uint8]]:
    """Decode a video's frames one at a time as RGB arrays (memory stays flat)."""
    import av

    with _open(path) as container:
        try:
            yield from decode.iter_rgb(container)
        except av.FFmpegError as exc:
            raise MediaInputError(
                f"Decoding '{path.name}' failed part-way; the file may be damaged.", code="file_corrupt"
            ) from exc


def read_image(path: Path) -> NDArray[np.uint8]:
    """Load a photo as RGB, honouring its EXIF orientation."""
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaInputError(
            f"The photo '{path.name}' is missing or empty; upload it again.", code="file_missing"
        )
    try:
        return decode.read_image(path)
    except MediaError as exc:
        raise MediaInputError(
            f"'{path.name}' is not a readable photo (JPEG or PNG expected).", code="file_corrupt"
        ) from exc
