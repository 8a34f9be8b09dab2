"""The render pipeline: speech and timing, frames from the chosen avatar mode, disclosure, MP4.

Frames are produced, labelled and encoded one at a time, so memory does not grow with the
video's length; only the audio track (about 11 MB per minute) is held whole.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from avatars.engine.captions import cues_from_words, write_webvtt
from avatars.engine.compose import CaptionBurner, Overlay, disclosure_overlay, write_poster
from avatars.engine.errors import (
    EngineError,
    InvalidSpecError,
    MediaInputError,
    SpeechError,
    UnsupportedModeError,
)
from avatars.engine.motion import Pose, idle_motion
from avatars.engine.specs import (
    Disclosure,
    FootageAvatar,
    FrameMarker,
    NeuralAvatar,
    PortraitAvatar,
    Progress,
    RecordedNarration,
    RenderResult,
    RenderSpec,
    ScriptNarration,
    StockAvatar,
)
from avatars.engine.speech import SAMPLE_RATE, SpeechTrack, concatenate, silence, synthesize
from avatars.engine.visemes import frame_energy, mouth_track, normalized_loudness
from core.media.errors import MediaError

PAUSE_SECONDS = 0.6
MAX_SIDE = 3840
#: Narration quieter than this (RMS over its loudest tenth) is treated as silent: about -50 dBFS.
SILENCE_RMS = 0.003


class FrameSource(Protocol):
    """An avatar mode: turns per-frame mouth shapes and poses into RGB frames of the output size."""

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]: ...


class _StockSource:
    def __init__(self, width: int, height: int) -> None:
        from avatars.engine.stock import StockPresenter

        self._presenter = StockPresenter(width, height)

    def frames(self, mouths: NDArray[np.float64], poses: list[Pose]) -> Iterator[NDArray[np.uint8]]:
        for mouth, pose in zip(mouths, poses, strict=True):
            yield self._presenter.draw((float(mouth[0]), float(mouth[1]), float(mouth[2])), pose)


def _no_progress(fraction: float, stage: str) -> None:
    return None


def _validate(spec: RenderSpec) -> None:
    if (
        not (2 <= spec.width <= MAX_SIDE and 2 <= spec.height <= MAX_SIDE)
        or spec.width % 2
        or spec.height % 2
    ):
        raise InvalidSpecError(
            f"Output size must be even and at most {MAX_SIDE} pixels a side, got {spec.width}x{spec.height}."
        )
    if not 1 <= spec.fps <= 60:
        raise InvalidSpecError(f"Frame rate must be between 1 and 60, got {spec.fps}.")
    if not spec.basename or "/" in spec.basename or spec.basename.startswith("."):
        raise InvalidSpecError("Output name must be a plain file name.")
    if isinstance(spec.narration, ScriptNarration) and not spec.narration.text.strip():
        raise InvalidSpecError(
            "The script is empty; write the text the clinician should say.", code="script_empty"
        )
    for name, part in (("opening", spec.disclosure.intro), ("closing", spec.disclosure.outro)):
        if isinstance(part, str) and not part.strip():
            raise InvalidSpecError(
                f"The spoken {name} disclaimer is empty; every synthetic video must say that it is synthetic "
                "at its start and its end.",
                code="disclaimer_empty",
            )


def _spoken(part: str | Path, language: str, words_per_minute: int) -> SpeechTrack:
    if isinstance(part, Path):
        from avatars.engine.media import read_audio

        return SpeechTrack(samples=read_audio(part))
    return synthesize(part, language=language, words_per_minute=words_per_minute)


def _check_not_silent(samples: NDArray[np.float32], what: str) -> None:
    energy = frame_energy(samples, SAMPLE_RATE, 25.0, max(1, int(len(samples) / SAMPLE_RATE * 25)))
    loud = float(np.percentile(energy, 90)) if len(energy) else 0.0
    if loud < SILENCE_RMS:
        raise SpeechError(
            f"The {what} is silent or almost silent; check the microphone and record it again.",
            code="narration_silent",
        )


@dataclass(frozen=True)
class Soundtrack:
    """The whole spoken track and where the narration sits in it (seconds)."""

    speech: SpeechTrack
    synthetic_voice: bool
    narration_start: float
    narration_end: float


def build_speech(narration: ScriptNarration | RecordedNarration, disclosure: Disclosure) -> Soundtrack:
    """The whole soundtrack: spoken opening disclaimer, narration, spoken closing disclaimer."""
    if isinstance(narration, ScriptNarration):
        body = synthesize(
            narration.text, language=narration.language, words_per_minute=narration.words_per_minute
        )
        language, rate, synthetic = narration.language, narration.words_per_minute, True
    else:
        from avatars.engine.media import read_audio

        samples = read_audio(Path(narration.audio))
        _check_not_silent(samples, "narration recording")
        if narration.script and narration.script.strip():
            from avatars.engine.align import align_to_script

            body = align_to_script(samples, narration.script, language=narration.language)
        else:
            body = SpeechTrack(samples=samples)
        language, rate, synthetic = narration.language, 150, False
    intro = _spoken(disclosure.intro, language, rate)
    outro = _spoken(disclosure.outro, language, rate)
    for track, name in ((intro, "opening disclaimer"), (outro, "closing disclaimer")):
        _check_not_silent(track.samples, name)
    pause = silence(PAUSE_SECONDS)
    start = intro.duration + pause.duration
    return Soundtrack(
        speech=concatenate([intro, pause, body, pause, outro, silence(0.3)]),
        synthetic_voice=synthetic,
        narration_start=start,
        narration_end=start + body.duration,
    )


def _frame_source(spec: RenderSpec, progress: Progress) -> FrameSource:
    avatar = spec.avatar
    if isinstance(avatar, StockAvatar):
        return _StockSource(spec.width, spec.height)
    if isinstance(avatar, FootageAvatar):
        from avatars.engine.enrollment import EnrollmentAnalysis
        from avatars.engine.footage import FootageSource

        stored = EnrollmentAnalysis.load(Path(avatar.analysis)) if avatar.analysis is not None else None
        footage: FrameSource = FootageSource(
            Path(avatar.enrollment), spec.width, spec.height, progress=progress, analysis=stored
        )
        return footage
    if isinstance(avatar, PortraitAvatar):
        from avatars.engine.portrait import PortraitSource

        return PortraitSource(Path(avatar.photo), spec.width, spec.height)
    if isinstance(avatar, NeuralAvatar):
        raise UnsupportedModeError("Neural mode is not available in this installation; use footage mode.")
    raise InvalidSpecError(f"Unknown avatar type {type(avatar).__name__}.")


def render(
    spec: RenderSpec, progress: Progress | None = None, *, marker: FrameMarker | None = None
) -> RenderResult:
    """Render a disclosed, captioned avatar video; return the paths and facts of its outputs.

    Writes `<basename>.mp4`, `<basename>.vtt` and `<basename>.jpg` into `spec.output_dir`. The MP4
    is written under a temporary name and renamed when complete, so a killed worker never leaves a
    file that looks finished. With a `marker`, every frame and the poster are marked as they are
    encoded (the only encode the video gets). Raises only `EngineError` subclasses.
    """
    report = progress or _no_progress
    _validate(spec)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    label = disclosure_overlay(spec.disclosure.label, spec.width, spec.height)
    report(0.0, "speech")
    soundtrack = build_speech(spec.narration, spec.disclosure)
    speech = soundtrack.speech
    timings["speech"] = time.perf_counter() - started

    frame_count = max(1, math.ceil(speech.duration * spec.fps))
    mouths = mouth_track(speech, spec.fps, frame_count)
    loudness = normalized_loudness(frame_energy(speech.samples, speech.sample_rate, spec.fps, frame_count))
    poses = idle_motion(frame_count, spec.fps, seed=spec.seed, loudness=loudness)
    cues = cues_from_words(speech.words)

    mark = time.perf_counter()
    report(0.05, "analysis")
    source = _frame_source(spec, lambda fraction, stage: report(0.05 + 0.1 * fraction, stage))
    timings["analysis"] = time.perf_counter() - mark

    spec.output_dir.mkdir(parents=True, exist_ok=True)
    video = spec.output_dir / f"{spec.basename}.mp4"
    captions = spec.output_dir / f"{spec.basename}.vtt"
    poster = spec.output_dir / f"{spec.basename}.jpg"
    partial = spec.output_dir / f".{spec.basename}.{os.getpid()}.partial.mp4"
    mark = time.perf_counter()
    try:
        poster_frame = _encode(
            spec,
            source,
            mouths,
            poses,
            speech,
            label,
            CaptionBurner(cues, spec.width, spec.height),
            partial,
            report,
            marker,
        )
        os.replace(partial, video)
    except EngineError:
        partial.unlink(missing_ok=True)
        raise
    except MediaError as exc:  # the media toolkit's worded errors (e.g. a face model not installed)
        partial.unlink(missing_ok=True)
        raise EngineError(exc.message, code=exc.code) from exc
    except Exception as exc:
        partial.unlink(missing_ok=True)
        # Only EngineErrors leave the engine; the original stays chained for the worker's log.
        raise EngineError(
            f"Rendering failed unexpectedly ({type(exc).__name__}); the job can be retried.",
            code="render_failed",
        ) from exc
    timings["frames_and_encode"] = time.perf_counter() - mark
    # Poster and captions are written only once the video is complete, so a cancelled or failed
    # render leaves nothing behind.
    write_poster(poster_frame if marker is None else marker.mark_poster(poster_frame), poster)
    write_webvtt(cues, captions)
    timings["total"] = time.perf_counter() - started
    report(1.0, "done")
    return RenderResult(
        video=video,
        captions=captions,
        poster=poster,
        mode=spec.avatar.mode,
        duration=frame_count / spec.fps,
        frame_count=frame_count,
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        synthetic_voice=soundtrack.synthetic_voice,
        narration_start=soundtrack.narration_start,
        narration_end=soundtrack.narration_end,
        label=spec.disclosure.label,
        timings=timings,
    )


def _encode(
    spec: RenderSpec,
    source: FrameSource,
    mouths: NDArray[np.float64],
    poses: list[Pose],
    speech: SpeechTrack,
    label: Overlay,
    captions: CaptionBurner,
    partial: Path,
    report: Progress,
    marker: FrameMarker | None,
) -> NDArray[np.uint8]:
    from core.media.mp4 import Mp4Writer

    frame_count = len(mouths)
    samples_per_frame = SAMPLE_RATE / spec.fps
    audio = speech.samples
    # Poster: a moment of speech after the opening disclaimer, so the face looks natural.
    poster_index = min(frame_count - 1, int(spec.fps * 1.0))
    step = max(1, frame_count // 100)
    poster_frame = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
    try:
        with Mp4Writer(
            partial, width=spec.width, height=spec.height, fps=spec.fps, crf=spec.crf, preset=spec.preset
        ) as writer:
            for index, frame in enumerate(source.frames(mouths, poses)):
                if index >= frame_count:
                    break
                # The label goes on before anything else can fail or be skipped: every frame carries it.
                label.apply(frame)
                if spec.burn_captions:
                    captions.apply(frame, index / spec.fps)
                if index == poster_index:
                    # The poster gets its own (still) mark, not the video frame's.
                    poster_frame = frame.copy()
                writer.write_frame(frame if marker is None else marker.mark_frame(frame))
                begin, end = round(index * samples_per_frame), round((index + 1) * samples_per_frame)
                chunk = audio[begin:end]
                if len(chunk) < end - begin:
                    chunk = np.concatenate([chunk, np.zeros(end - begin - len(chunk), dtype=np.float32)])
                writer.write_audio(chunk)
                if index % step == 0:
                    report(0.15 + 0.85 * index / frame_count, "frames")
            if writer.frames_written != frame_count:
                raise EngineError(
                    "The avatar produced fewer frames than the speech needs.", code="render_failed"
                )
    except MediaError as exc:
        raise MediaInputError(exc.message, code=exc.code) from exc
    return poster_frame
