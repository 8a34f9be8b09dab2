"""Reading media: opening a file, the one `VideoInfo`, frames as RGB or luma, sound as mono float32.

Every engine reads through these functions and keeps only its own policy on top: which errors it
raises (and how they are worded for the person who supplied the file), how tolerant it is of
damaged packets, where it starts and stops. PyAV and OpenCV are imported inside the functions, so
importing this module (and any engine that uses it) stays cheap.

Functions taking a `container` work on one opened with `open_input` (or `av.open`); they let
`av.FFmpegError` from decoding through, so each caller decides what a damaged file means to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.media.errors import MediaError

#: The audio rate the product works at: the MP4 writer's, and what the voice encoder takes in.
AUDIO_RATE = 48_000
#: The frame rate assumed when a stream declares none.
DEFAULT_RATE = Fraction(25)

#: Decodes one stream of an open container into frames: `container.decode(stream)` by default;
#: a caller may pass a more tolerant one (detection skips a few undecodable packets).
Decoder = Callable[[Any, Any], Iterator[Any]]


def decode_stream(container: Any, stream: Any) -> Iterator[Any]:
    """Every frame of `stream`, stopping at the first packet the decoder rejects (the default `Decoder`)."""
    yield from container.decode(stream)


def open_input(path: str | Path) -> Any:
    """Open a media file for reading (metadata that does not decode as text is ignored).

    Raises `MediaError` (code `media_undecodable`) when FFmpeg cannot open it.
    """
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(
            f"'{Path(path).name}' cannot be opened as media: it is damaged or not a real media file.",
            code="media_undecodable",
        ) from exc


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a file's first video stream, read from its headers (nothing decoded)."""

    width: int
    height: int
    #: Exact frame rate: the stream's average rate, else FFmpeg's guess, else `DEFAULT_RATE`.
    rate: Fraction
    #: Frames the stream declares, else estimated from its duration; 0 when neither is known.
    frame_count: int
    #: The container's declared length in seconds, or None when it declares none.
    duration: float | None
    has_audio: bool

    @property
    def fps(self) -> float:
        """The frame rate as a float (for arithmetic; give encoders `rate`)."""
        return float(self.rate)


def stream_rate(stream: Any) -> Fraction:
    """A video stream's frame rate: average, else guessed, else `DEFAULT_RATE`."""
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else DEFAULT_RATE


def container_video_info(container: Any) -> VideoInfo:
    """The `VideoInfo` of an open container's first video stream.

    Raises `MediaError` (code `media_no_video`) when there is none.
    """
    if not container.streams.video:
        raise MediaError("The file has no video track.", code="media_no_video")
    stream = container.streams.video[0]
    rate = stream_rate(stream)
    frames = int(stream.frames or 0)
    if not frames and stream.duration and stream.time_base:
        frames = int(round(float(stream.duration * stream.time_base) * float(rate)))
    return VideoInfo(
        width=int(stream.codec_context.width),
        height=int(stream.codec_context.height),
        rate=rate,
        frame_count=frames,
        duration=container.duration / 1_000_000 if container.duration else None,
        has_audio=bool(container.streams.audio),
    )


def video_info(path: str | Path) -> VideoInfo:
    """The `VideoInfo` of a file; raises `MediaError` when it cannot be opened or has no video."""
    with open_input(path) as container:
        return container_video_info(container)


def to_rgb(frame: Any, *, exact: bool = False) -> NDArray[np.uint8]:
    """A decoded video frame as an HxWx3 uint8 RGB array.

    Limited-range 4:2:0 (what cameras and H.264 encoders write) is converted by OpenCV: about 1 ms
    a 720p frame against 4 ms for FFmpeg's swscale, within 3 levels of it. `exact` always uses
    swscale (for code whose output must match what it measured before, level for level).
    """
    if (
        not exact
        and frame.format.name == "yuv420p"
        and frame.color_range != 2
        and not frame.width % 2
        and not frame.height % 2
    ):
        import cv2

        return np.asarray(cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420), dtype=np.uint8)
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


_PLANAR_YUV = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p")


def to_luma(frame: Any) -> NDArray[np.uint8]:
    """A decoded video frame's luma (HxW uint8): the decoder's own Y plane when it has one."""
    if frame.format.name in _PLANAR_YUV:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        return np.ascontiguousarray(rows[: frame.height, : frame.width])
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)


def iter_rgb(
    container: Any, *, exact: bool = False, decode: Decoder = decode_stream
) -> Iterator[NDArray[np.uint8]]:
    """The first video stream's frames as RGB arrays, one at a time (memory stays flat)."""
    for frame in decode(container, container.streams.video[0]):
        yield to_rgb(frame, exact=exact)


def iter_audio(
    container: Any,
    *,
    rate: int,
    start_seconds: float = 0.0,
    max_seconds: float | None = None,
    decode: Decoder = decode_stream,
) -> Iterator[NDArray[np.float32]]:
    """The first audio stream as mono float32 chunks at `rate` Hz (nothing when there is none).

    Starts `start_seconds` into the sound and stops after `max_seconds`; the resampler's last
    samples are flushed when the sound is read to its end.
    """
    import av

    if not container.streams.audio:
        return
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    emitted, skip = 0, int(start_seconds * rate)
    limit = None if max_seconds is None else int(max_seconds * rate)

    def cut(chunk: NDArray[np.float32]) -> NDArray[np.float32]:
        nonlocal emitted, skip
        if skip:
            dropped = min(skip, chunk.shape[0])
            chunk, skip = chunk[dropped:], skip - dropped
        if limit is not None:
            chunk = chunk[: max(0, limit - emitted)]
        emitted += chunk.shape[0]
        return chunk

    for frame in decode(container, container.streams.audio[0]):
        for converted in resampler.resample(frame):
            chunk = cut(converted.to_ndarray().reshape(-1).astype(np.float32))
            if chunk.size:
                yield chunk
        if limit is not None and emitted >= limit:
            return
    for converted in resampler.resample(None):
        chunk = cut(converted.to_ndarray().reshape(-1).astype(np.float32))
        if chunk.size:
            yield chunk


def read_audio(
    container: Any,
    *,
    rate: int,
    start_seconds: float = 0.0,
    max_seconds: float | None = None,
    decode: Decoder = decode_stream,
) -> NDArray[np.float32] | None:
    """`iter_audio` joined into one array, or None when the file has no sound or it is empty."""
    chunks = list(
        iter_audio(container, rate=rate, start_seconds=start_seconds, max_seconds=max_seconds, decode=decode)
    )
    return np.concatenate(chunks) if chunks else None


def read_image(path: str | Path, *, draft: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """A photo as HxWx3 uint8 RGB, its EXIF orientation applied and any alpha dropped.

    `draft` lets a JPEG decode at a reduced scale no smaller than that size (much cheaper for big
    photos). Raises `MediaError` (code `media_undecodable`) when Pillow cannot read it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if draft is not None:
                image.draft("RGB", draft)
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(
            f"'{Path(path).name}' is not a readable image; it may be damaged.", code="media_undecodable"
        ) from exc
