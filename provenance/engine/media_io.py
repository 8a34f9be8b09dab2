"""Streaming video reading and re-encoding for the provenance engine (`core.media` in and out).

Frames are yielded one at a time so memory stays flat however long the video is. `transcode`
doubles as the attack simulator of the robustness benchmark: what a social platform does to an
upload (re-encode, downscale, crop, cut) is exactly a transcode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.media import decode
from core.media.decode import VideoInfo
from core.media.errors import MediaError
from provenance.engine.errors import ProvenanceError

AUDIO_RATE = 48_000

__all__ = [
    "AUDIO_RATE",
    "VideoInfo",
    "crop_and_scale",
    "iter_audio",
    "iter_frames",
    "iter_timed_frames",
    "transcode",
    "video_info",
]


def video_info(path: str | Path) -> VideoInfo:
    """Probe size, frame rate and whether there is audio (`VideoInfo.rate` is the exact rate)."""
    try:
        return decode.video_info(path)
    except MediaError as exc:
        if exc.code == "media_no_video":
            raise ProvenanceError("The file has no video stream.", code="not_a_video") from exc
        raise ProvenanceError(f"Unreadable video: {exc.__cause__ or exc}", code="not_a_video") from exc


def iter_frames(
    path: str | Path, *, max_seconds: float | None = None, start_seconds: float = 0.0
) -> Iterator[NDArray[np.uint8]]:
    """Yield decoded RGB frames (HxWx3 uint8) from `start_seconds` on, for at most `max_seconds`."""
    for _, rgb in iter_timed_frames(path, max_seconds=max_seconds, start_seconds=start_seconds):
        yield rgb


def iter_timed_frames(
    path: str | Path, *, max_seconds: float | None = None, start_seconds: float = 0.0
) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """Like `iter_frames`, with each frame's presentation time in seconds.

    Colours are converted exactly (FFmpeg's swscale), as the watermark and fingerprint thresholds
    were measured that way.
    """
    import av

    try:
        with decode.open_input(path) as container:
            if not container.streams.video:
                raise ProvenanceError("The file has no video stream.", code="not_a_video")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                at = frame.time if frame.time is not None else 0.0
                if at < start_seconds:
                    continue
                if max_seconds is not None and at >= start_seconds + max_seconds:
                    break
                yield float(at), decode.to_rgb(frame, exact=True)
    except MediaError as exc:
        raise ProvenanceError(f"Unreadable video: {exc.__cause__ or exc}", code="not_a_video") from exc
    except av.FFmpegError as exc:
        raise ProvenanceError(f"Unreadable video: {exc}", code="not_a_video") from exc


def iter_audio(
    path: str | Path, *, max_seconds: float | None = None, start_seconds: float = 0.0
) -> Iterator[NDArray[np.float32]]:
    """Yield the first audio stream as mono float32 chunks at 48 kHz (nothing if there is none).

    Raises `ProvenanceError` when the file cannot be opened; a decoding error partway through is
    `av.FFmpegError`.
    """
    try:
        container = decode.open_input(path)
    except MediaError as exc:
        raise ProvenanceError(f"Unreadable video: {exc.__cause__ or exc}", code="not_a_video") from exc
    with container:
        yield from decode.iter_audio(
            container, rate=AUDIO_RATE, start_seconds=start_seconds, max_seconds=max_seconds
        )


def crop_and_scale(rgb: NDArray[np.uint8], *, crop: float = 0.0, scale: float = 1.0) -> NDArray[np.uint8]:
    """Cut `crop` (a fraction of each dimension, split over both edges) then resize by `scale`.

    The output is rounded down to even sides, as H.264 in yuv420p needs.
    """
    import cv2

    height, width = rgb.shape[:2]
    if crop > 0:
        dy, dx = round(height * crop / 2), round(width * crop / 2)
        rgb = rgb[dy : height - dy, dx : width - dx]
        height, width = rgb.shape[:2]
    out_w = max(2, int(width * scale) // 2 * 2)
    out_h = max(2, int(height * scale) // 2 * 2)
    if (out_w, out_h) != (width, height):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = np.asarray(cv2.resize(rgb, (out_w, out_h), interpolation=interp), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def transcode(
    source: str | Path,
    dest: str | Path,
    *,
    crf: int = 23,
    scale: float = 1.0,
    crop: float = 0.0,
    max_seconds: float | None = None,
    start_seconds: float = 0.0,
) -> Path:
    """Re-encode `source` to an H.264 MP4, optionally cropped, rescaled and cut to a time range."""
    from core.media.mp4 import Mp4Writer

    info = video_info(source)
    writer: Mp4Writer | None = None
    out = Path(dest)
    try:
        for rgb in iter_frames(source, max_seconds=max_seconds, start_seconds=start_seconds):
            frame = crop_and_scale(rgb, crop=crop, scale=scale)
            if writer is None:
                writer = Mp4Writer(
                    out,
                    width=frame.shape[1],
                    height=frame.shape[0],
                    fps=info.rate,
                    with_audio=info.has_audio,
                    crf=crf,
                )
            writer.write_frame(frame)
        if writer is None:
            raise ProvenanceError("The video has no frames.", code="not_a_video")
        if info.has_audio:
            for chunk in iter_audio(source, max_seconds=max_seconds, start_seconds=start_seconds):
                writer.write_audio(chunk)
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return out
