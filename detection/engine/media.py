"""Reading the file to scan: what kind it is, its frames one at a time, and its sound.

The kind comes from the file's bytes (`core.media.probe.sniff`, never the name); opening, colour
conversion and sound resampling are the media toolkit's (`core.media.decode`). Video frames are
decoded once, in order, and handed out with their luma plane (cheap: the decoder's own Y plane)
and an RGB picture made only when an analyzer asks for it, so a 60 s 720p video costs one decode
pass and a few RGB conversions per second; memory stays flat however long the video is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.media import decode
from core.media.errors import MediaError
from core.media.probe import sniff
from detection.engine.errors import DetectionInputError

#: Every audio analyzer works on mono float32 at this rate (what resemblyzer expects).
AUDIO_RATE = 16_000


@dataclass(frozen=True)
class MediaInfo:
    """What the scan needs to know before reading the file."""

    kind: str  # video | image | audio
    container: str
    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    has_audio: bool


def _open(path: Path) -> Any:
    try:
        return decode.open_input(path)
    except MediaError as exc:
        raise DetectionInputError(
            f"'{path.name}' cannot be opened as media: it is damaged or not a real media file.",
            code="media_undecodable",
        ) from exc


def media_info(path: Path) -> MediaInfo:
    """Identify the file from its bytes and read its basic facts; raise `DetectionInputError`."""
    if not path.is_file() or path.stat().st_size == 0:
        raise DetectionInputError(f"'{path.name}' is missing or empty.", code="media_empty")
    with path.open("rb") as handle:
        sniffed = sniff(handle.read(64))
    if sniffed is None:
        raise DetectionInputError(
            f"'{path.name}' is not a video, image or audio format the scanner reads "
            "(MP4, MOV, WebM, AVI, MPEG, PNG, JPEG, WAV, FLAC, MP3, Ogg).",
            code="media_type_unknown",
        )
    if sniffed.kind == "image":
        rgb = read_image(path)
        return MediaInfo("image", sniffed.container, None, None, rgb.shape[1], rgb.shape[0], False)
    with _open(path) as container:
        duration = container.duration / 1_000_000 if container.duration else None
        has_audio = bool(container.streams.audio)
        if sniffed.kind == "audio" or not container.streams.video:
            if not has_audio:
                raise DetectionInputError(f"'{path.name}' has no sound track.", code="media_no_audio")
            return MediaInfo("audio", sniffed.container, duration, None, None, None, True)
        video = decode.container_video_info(container)
        return MediaInfo(
            "video", sniffed.container, duration, video.fps, video.width, video.height, has_audio
        )


@dataclass
class Frame:
    """One decoded video frame: its position, its luma plane, and RGB on demand."""

    index: int
    time: float
    luma: NDArray[np.uint8]
    _source: Any = field(default=None, repr=False)
    _rgb: NDArray[np.uint8] | None = field(default=None, repr=False)

    def rgb(self) -> NDArray[np.uint8]:
        """The frame as an RGB array (converted once, on first use)."""
        if self._rgb is None:
            self._rgb = decode.to_rgb(self._source)
        return self._rgb


def iter_frames(path: Path, *, max_seconds: float | None = None) -> Iterator[Frame]:
    """Decode a video's frames in order (times from the first frame's timestamp, in seconds)."""
    import av

    with _open(path) as container:
        if not container.streams.video:
            raise DetectionInputError(f"'{path.name}' contains no video.", code="media_no_video")
        stream = container.streams.video[0]
        fps = float(decode.stream_rate(stream))
        first: float | None = None
        try:
            for index, frame in enumerate(_decode_tolerant(container, stream)):
                if frame.time is not None:
                    first = frame.time if first is None else first
                    time = float(frame.time - first)
                else:
                    time = index / fps
                if max_seconds is not None and time >= max_seconds:
                    break
                yield Frame(index=index, time=time, luma=decode.to_luma(frame), _source=frame)
        except av.FFmpegError as exc:
            raise DetectionInputError(
                f"Decoding '{path.name}' failed part-way; the file may be damaged.", code="media_truncated"
            ) from exc


#: A few packets that do not decode are skipped, as players do: an edited or damaged file must still
#: be scanned (its provenance then tells whether it was altered). Past this share it is unreadable.
_MAX_BAD_PACKET_SHARE = 0.05
_MIN_BAD_PACKETS_TOLERATED = 8


def _decode_tolerant(container: Any, stream: Any) -> Iterator[Any]:
    """Decode `stream`'s frames, skipping packets the decoder rejects while they stay few.

    The scanner's own `core.media.decode.Decoder`: the toolkit's readers take it in place of
    their default, which stops at the first bad packet.
    """
    import av

    good = bad = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError:  # InvalidDataError mostly; a garbled AAC packet can give others
            bad += 1
            if bad > max(_MIN_BAD_PACKETS_TOLERATED, _MAX_BAD_PACKET_SHARE * (good + bad)):
                raise
            continue
        good += 1
        yield from frames


def image_frame(rgb: NDArray[np.uint8]) -> Frame:
    """A still image as the single frame of a zero-length video."""
    import cv2

    gray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    return Frame(index=0, time=0.0, luma=gray, _rgb=rgb)


def read_image(path: Path) -> NDArray[np.uint8]:
    """Load a photo as RGB (EXIF orientation applied, alpha dropped)."""
    try:
        return decode.read_image(path, draft=(4096, 4096))
    except MediaError as exc:
        raise DetectionInputError(
            f"'{path.name}' is not a readable image; it may be damaged.", code="media_undecodable"
        ) from exc


def read_audio(path: Path, *, max_seconds: float | None = None) -> NDArray[np.float32] | None:
    """The first sound track as mono float32 at `AUDIO_RATE`, or None when there is none."""
    import av

    with _open(path) as container:
        try:
            return decode.read_audio(
                container, rate=AUDIO_RATE, max_seconds=max_seconds, decode=_decode_tolerant
            )
        except av.FFmpegError as exc:
            raise DetectionInputError(
                f"The sound of '{path.name}' could not be decoded (the file may be damaged).",
                code="media_truncated",
            ) from exc
