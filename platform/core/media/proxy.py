"""Normalize any accepted video into a browser-playable H.264 + AAC MP4 proxy and a poster JPEG.

Frames are decoded, scaled and encoded one at a time, so memory does not grow with duration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.media.decode import stream_rate
from core.media.errors import MediaError
from core.media.mp4 import AUDIO_RATE, Mp4Writer, even_size

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ProxySpec:
    source: Path
    video_out: Path
    poster_out: Path
    max_height: int = 720
    crf: int = 23


@dataclass(frozen=True)
class ProxyResult:
    video_path: Path
    poster_path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration_seconds: float
    has_audio: bool


def _no_progress(fraction: float, stage: str) -> None:
    del fraction, stage


def make_proxy(spec: ProxySpec, progress: Progress = _no_progress) -> ProxyResult:
    """Transcode `spec.source`; report progress as (fraction, stage); raise MediaError on bad media."""
    import av
    from PIL import Image

    try:
        source = av.open(str(spec.source))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError("The video cannot be opened for conversion.", code="media_undecodable") from exc
    with source:
        if not source.streams.video:
            raise MediaError("The file has no video track.", code="media_no_video")
        vstream = source.streams.video[0]
        vstream.thread_type = "AUTO"
        fps = stream_rate(vstream).limit_denominator(1001)
        if not 1 <= fps <= 120:
            fps = Fraction(25)
        width, height = even_size(
            vstream.codec_context.width, vstream.codec_context.height, max_height=spec.max_height
        )
        duration = source.duration / 1_000_000 if source.duration else None
        expected_frames = max(1, round(duration * float(fps))) if duration else None
        has_audio = bool(source.streams.audio)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE) if has_audio else None
        streams = [vstream, source.streams.audio[0]] if has_audio else [vstream]

        frames = 0
        poster_saved = False
        progress(0.0, "converting")
        with Mp4Writer(
            spec.video_out, width=width, height=height, fps=fps, with_audio=has_audio, crf=spec.crf
        ) as writer:
            try:
                for packet in source.demux(*streams):
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            scaled = frame.reformat(width=width, height=height, format="rgb24")
                            rgb = np.asarray(scaled.to_ndarray(), dtype=np.uint8)
                            writer.write_frame(rgb)
                            frames += 1
                            if not poster_saved and frames >= min(int(fps), expected_frames or 1):
                                Image.fromarray(rgb).save(spec.poster_out, format="JPEG", quality=88)
                                poster_saved = True
                            if expected_frames and frames % 10 == 0:
                                progress(min(0.99, frames / expected_frames), "converting")
                        elif resampler is not None and isinstance(frame, av.AudioFrame):
                            for out in resampler.resample(frame):
                                writer.write_audio(out.to_ndarray()[0].astype(np.float32))
            except av.FFmpegError as exc:
                raise MediaError(
                    "The video is damaged partway through and cannot be converted.", code="media_truncated"
                ) from exc
            if resampler is not None:
                for out in resampler.resample(None):
                    writer.write_audio(out.to_ndarray()[0].astype(np.float32))
            if frames == 0:
                raise MediaError("No frame of the video could be decoded.", code="media_undecodable")
            if not poster_saved:
                raise MediaError("No poster frame could be taken from the video.", code="media_undecodable")
    progress(1.0, "converted")
    return ProxyResult(
        spec.video_out, spec.poster_out, width, height, float(fps), frames, frames / float(fps), has_audio
    )
