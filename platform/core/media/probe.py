"""Identify a media file from its bytes and check that it really decodes, within given limits.

The type comes from the leading bytes (never the file name); PyAV then opens the file with the
demuxer that matches the sniffed type, so a file that only looks like one format is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from core.media.errors import MediaError


@dataclass(frozen=True)
class Sniffed:
    kind: str  # video | image | audio
    container: str  # short name shown to people: mp4, webm, png...
    content_type: str
    demuxers: frozenset[str]  # PyAV/FFmpeg format names that may open it


def _sig(kind: str, container: str, content_type: str, *demuxers: str) -> Sniffed:
    return Sniffed(kind, container, content_type, frozenset(demuxers))


_MP4 = _sig("video", "mp4", "video/mp4", "mov,mp4,m4a,3gp,3g2,mj2")
_MOV = _sig("video", "mov", "video/quicktime", "mov,mp4,m4a,3gp,3g2,mj2")
_WEBM = _sig("video", "webm", "video/webm", "matroska,webm")
_AVI = _sig("video", "avi", "video/x-msvideo", "avi")
_MPEG = _sig("video", "mpeg", "video/mpeg", "mpeg", "mpegvideo")
_PNG = _sig("image", "png", "image/png", "png_pipe", "image2")
_JPEG = _sig("image", "jpeg", "image/jpeg", "jpeg_pipe", "image2")
_WAV = _sig("audio", "wav", "audio/wav", "wav")
_FLAC = _sig("audio", "flac", "audio/flac", "flac")
_MP3 = _sig("audio", "mp3", "audio/mpeg", "mp3")
_OGG = _sig("audio", "ogg", "audio/ogg", "ogg")


def sniff(head: bytes) -> Sniffed | None:
    """Return the type the leading bytes (at least 64) announce, or None if unknown."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _MOV if head[8:12] == b"qt  " else _MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _WEBM
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return _AVI
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return _WAV
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return _MPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"fLaC"):
        return _FLAC
    if head.startswith(b"OggS"):
        return _OGG
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return _MP3
    return None


@dataclass(frozen=True)
class Limits:
    max_duration_seconds: float
    max_dimension: int
    min_dimension: int
    max_fps: float


@dataclass(frozen=True)
class ProbeResult:
    kind: str
    container: str
    content_type: str
    duration_seconds: float | None
    width: int | None
    height: int | None
    fps: float | None
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None


def probe(path: str | Path, sniffed: Sniffed, limits: Limits) -> ProbeResult:
    """Open, measure and decode-check the file; raise MediaError naming the first problem found."""
    import av

    # An image's size is read from its header before anything decodes it, so a small file that
    # declares a huge picture (a decompression bomb) is refused before memory is spent on it.
    pillow_size = _pillow_check(path, sniffed, limits) if sniffed.kind == "image" else None
    try:
        container = av.open(
            str(path),
            mode="r",
            metadata_errors="ignore",
            # Opening may decode a first frame to learn its format: cap the picture FFmpeg will
            # allocate at the largest accepted size (the header of a video can declare any size).
            options={"max_pixels": str(limits.max_dimension * limits.max_dimension)},
        )
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"The file looks like {sniffed.container.upper()} but cannot be opened: it is damaged or "
            "not a real media file.",
            code="media_undecodable",
        ) from exc
    with container:
        if container.format.name not in sniffed.demuxers:
            raise MediaError(
                f"The file starts like {sniffed.container.upper()} but decodes as "
                f"{container.format.name!r}; mixed-format files are not accepted.",
                code="media_type_mismatch",
            )
        if sniffed.kind == "video":
            return _probe_video(container, sniffed, limits)
        if sniffed.kind == "image":
            result = _probe_image(container, sniffed, limits)
            if (result.width, result.height) != pillow_size:
                raise MediaError(
                    "The image decodes to different pictures in different readers; it is not accepted.",
                    code="media_type_mismatch",
                )
            return result
        return _probe_audio(container, sniffed, limits)


def _pillow_check(path: str | Path, sniffed: Sniffed, limits: Limits) -> tuple[int, int]:
    """Check that Pillow, which the product uses to read photos and stills, reads the whole image.

    FFmpeg and Pillow do not refuse the same damage (FFmpeg ignores a broken PNG header checksum,
    and draws the missing part of a cut JPEG in grey), so an image is accepted only if both read it.
    Returns the size Pillow sees.
    """
    from PIL import Image

    refused = MediaError(
        f"The image cannot be read: it is damaged or incomplete, or not a real {sniffed.container.upper()}.",
        code="media_undecodable",
    )
    try:
        with warnings.catch_warnings():
            # Pillow warns about sizes the check below refuses anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=[sniffed.container.upper()]) as image:
                _check_size(image.width, image.height, limits)  # header only: nothing decoded yet
                image.load()
                return image.width, image.height
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"The image declares a picture far larger than {limits.max_dimension} pixels a side; it is "
            "not accepted.",
            code="media_too_large",
        ) from exc
    except Exception as exc:
        # Pillow reports a malformed file with whatever its parser tripped on (OSError, SyntaxError,
        # ValueError, struct.error, zlib.error...); every one of them means the image is refused.
        raise refused from exc


def _decodable(streams: object, what: str) -> None:
    """Refuse a file with a track FFmpeg has no decoder for (a cut or forged codec header)."""
    for stream in streams:  # type: ignore[attr-defined]
        if stream.codec_context is None:
            raise MediaError(
                f"The file's {what} is in a format that cannot be decoded (or its header is damaged).",
                code="media_undecodable",
            )


def _check_size(width: int, height: int, limits: Limits) -> None:
    if width < limits.min_dimension or height < limits.min_dimension:
        raise MediaError(
            f"The picture is {width}×{height} pixels; at least {limits.min_dimension} pixels on each side "
            "are needed.",
            code="media_too_small",
        )
    if width > limits.max_dimension or height > limits.max_dimension:
        raise MediaError(
            f"The picture is {width}×{height} pixels; at most {limits.max_dimension} pixels on each side "
            "are accepted.",
            code="media_too_large",
        )


def _container_duration(container: object) -> float | None:
    duration = getattr(container, "duration", None)
    return None if duration is None else duration / 1_000_000


def _too_long(what: str, seconds: float, limits: Limits, *, measured: bool = False) -> MediaError:
    most = f"{limits.max_duration_seconds / 60:.0f} minutes"
    # A measured length stops counting at the limit, so it says "longer than", not a number.
    if measured:
        return MediaError(f"The {what} runs longer than {most}, the most accepted.", code="media_too_long")
    return MediaError(
        f"The {what} lasts {seconds / 60:.1f} minutes; at most {most} are accepted.", code="media_too_long"
    )


class _Span:
    """The time covered by a file's packets, measured from their own timestamps.

    The header's duration may be missing or lie, so the length that counts is the one the data
    covers; `add` raises as soon as it passes the limit, so an hours-long file is not read to its
    end to find that out.
    """

    def __init__(self, what: str, limits: Limits) -> None:
        self.what = what
        self.limits = limits
        self.first: float | None = None
        self.end = 0.0

    def add(self, start: float, length: float) -> None:
        self.first = start if self.first is None else min(self.first, start)
        self.end = max(self.end, start + length)
        if self.end - self.first > self.limits.max_duration_seconds:
            raise _too_long(self.what, self.end - self.first, self.limits, measured=True)


def _probe_video(container: object, sniffed: Sniffed, limits: Limits) -> ProbeResult:
    import av

    assert isinstance(container, av.container.InputContainer)
    if not container.streams.video:
        raise MediaError("The file has no video track.", code="media_no_video")
    _decodable(container.streams.video[:1], "picture")
    _decodable(container.streams.audio[:1], "sound track")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    _check_size(width, height, limits)
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    fps = float(rate) if rate else None
    duration = _container_duration(container)
    if duration is not None and duration > limits.max_duration_seconds:
        raise _too_long("video", duration, limits)
    has_audio = bool(container.streams.audio)
    audio_codec = container.streams.audio[0].codec_context.name if has_audio else None
    # Demux every packet of every stream (cheap: no decoding) to find truncation and the length the
    # data really covers, and decode the first frames to prove the codec data is real.
    span = _Span("video", limits)
    time_bases = {s.index: float(s.time_base) if s.time_base else 0.0 for s in container.streams}
    # Frames without timestamps still play at some rate: more of them than the longest allowed
    # video at the highest allowed rate is too long, whatever the clock says.
    max_packets = int(limits.max_duration_seconds * limits.max_fps) + 1
    decoded = 0
    packets = 0
    last_time = 0.0
    first_time: float | None = None
    try:
        for packet in container.demux():
            if packet.pts is not None and time_bases[packet.stream_index]:
                time_base = time_bases[packet.stream_index]
                span.add(packet.pts * time_base, (packet.duration or 0) * time_base)
                if packet.stream_index == stream.index:
                    last_time = max(last_time, packet.pts * time_base)
                    first_time = (
                        packet.pts * time_base
                        if first_time is None
                        else min(first_time, packet.pts * time_base)
                    )
            if packet.stream_index != stream.index or not packet.size:
                continue
            packets += 1
            if packets > max_packets:
                raise _too_long("video", 0.0, limits, measured=True)
            if decoded < 3:
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        # The stream header's size may differ from what the frames really hold.
                        _check_size(frame.width, frame.height, limits)
                        decoded += 1
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(
            "The video is damaged partway through (it may have been cut off while copying); "
            "please upload the complete file.",
            code="media_truncated",
        ) from exc
    if decoded == 0:
        raise MediaError("No frame of the video could be decoded.", code="media_undecodable")
    if fps is not None and fps > limits.max_fps:
        # A browser's MediaRecorder writes WebM whose header rate is its millisecond clock (1000/s);
        # the rate that counts is the one its frames really have.
        covered = last_time - (first_time or 0.0)
        measured = (packets - 1) / covered if packets > 1 and covered > 0 else None
        if measured is None or measured > limits.max_fps:
            raise MediaError(
                f"The video runs at {fps:.0f} frames per second; at most {limits.max_fps:.0f} are accepted.",
                code="media_fps_too_high",
            )
        fps = measured
    # Indexed containers (MP4, MOV) declare their frame count; the demuxer stops quietly at a cut,
    # so fewer packets than declared means the file is incomplete.
    if stream.frames and packets < stream.frames - 1:
        raise MediaError(
            f"The video declares {stream.frames} frames but only {packets} are in the file: it is incomplete "
            "(it may have been cut off while copying).",
            code="media_truncated",
        )
    if duration is None:
        duration = span.end - (span.first or 0.0)
    elif duration > 1.0 and last_time < duration * 0.9 - 1.0:
        raise MediaError(
            f"The video says it lasts {duration:.1f} s but its data stops at {last_time:.1f} s: the file "
            "is incomplete.",
            code="media_truncated",
        )
    return ProbeResult(
        kind="video",
        container=sniffed.container,
        content_type=sniffed.content_type,
        duration_seconds=duration,
        width=width,
        height=height,
        fps=fps,
        has_audio=has_audio,
        video_codec=stream.codec_context.name,
        audio_codec=audio_codec,
    )


def _probe_image(container: object, sniffed: Sniffed, limits: Limits) -> ProbeResult:
    import av

    assert isinstance(container, av.container.InputContainer)
    _decodable(container.streams.video[:1], "picture")
    try:
        frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError, ValueError) as exc:
        raise MediaError(
            "The image cannot be decoded: it is damaged or incomplete.", code="media_undecodable"
        ) from exc
    _check_size(frame.width, frame.height, limits)
    return ProbeResult(
        "image",
        sniffed.container,
        sniffed.content_type,
        None,
        frame.width,
        frame.height,
        None,
        False,
        container.streams.video[0].codec_context.name,
        None,
    )


def _probe_audio(container: object, sniffed: Sniffed, limits: Limits) -> ProbeResult:
    import av

    assert isinstance(container, av.container.InputContainer)
    if not container.streams.audio:
        raise MediaError("The file has no audio track.", code="media_no_audio")
    duration = _container_duration(container)
    if duration is not None and duration > limits.max_duration_seconds:
        raise _too_long("recording", duration, limits)
    _decodable(container.streams.audio[:1], "sound")
    stream = container.streams.audio[0]
    span = _Span("recording", limits)
    decoded = 0
    try:
        for frame in container.decode(stream):
            decoded += 1
            if frame.time is not None and frame.sample_rate:
                span.add(frame.time, frame.samples / frame.sample_rate)
    except av.FFmpegError as exc:
        raise MediaError("The recording is damaged partway through.", code="media_truncated") from exc
    if decoded == 0:
        raise MediaError("No audio could be decoded from the file.", code="media_undecodable")
    if duration is None:
        duration = span.end - (span.first or 0.0)
    codec = stream.codec_context.name
    return ProbeResult(
        "audio", sniffed.container, sniffed.content_type, duration, None, None, None, True, None, codec
    )
