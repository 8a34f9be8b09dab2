"""One call that runs the chosen analyzers over one video, image or audio file.

The video is decoded once, frame by frame (never held whole in memory): every frame feeds the
lip-sync and flicker measures; `sample_fps` frames a second also get face detection, the
manipulation model and (spread over the video, see `ScanSpec.max_face_embeddings`) identity
embeddings. The sound is read once at 16 kHz for the voice, synthetic-speech and lip-sync
analyzers. Progress is reported as the decode advances; the callback may raise to cancel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from detection.engine.errors import AnalyzerUnavailable, DetectionError
from detection.engine.faces import FaceFinder, detect
from detection.engine.identity import FaceIdentityTracker, voice_identity
from detection.engine.manipulation import ManipulationTracker, forgery_model
from detection.engine.media import MediaInfo, image_frame, iter_frames, media_info, read_audio, read_image
from detection.engine.provenance import provenance_result
from detection.engine.results import Analyzer, AnalyzerResult, Progress, ScanResult
from detection.engine.specs import ALL_ANALYZERS, ScanSpec
from detection.engine.synthetic_speech import synthetic_speech_result
from detection.engine.temporal import FaceMotionTracker, drift_result, flicker_result, lip_sync_result

VISUAL = frozenset({Analyzer.FACE_IDENTITY, Analyzer.VISUAL_MANIPULATION})
VIDEO_ONLY = frozenset({Analyzer.LIP_SYNC, Analyzer.IDENTITY_DRIFT, Analyzer.BLENDING_FLICKER})
AUDIO = frozenset({Analyzer.VOICE_IDENTITY, Analyzer.SYNTHETIC_SPEECH})


@dataclass
class _Clock:
    """Wall time per stage, for the speed benchmark."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def _unavailable(name: str, error: AnalyzerUnavailable) -> AnalyzerResult:
    return AnalyzerResult(name, 0.0, False, 1.0, skipped=error.message)


def _guarded(name: str, make: Callable[[], AnalyzerResult]) -> AnalyzerResult:
    """Run one analyzer; a missing model or library skips it instead of failing the scan."""
    try:
        return make()
    except AnalyzerUnavailable as error:
        return _unavailable(name, error)


def _applicable(kind: str, wanted: frozenset[str]) -> frozenset[str]:
    if kind == "audio":
        return wanted & (AUDIO | {Analyzer.PROVENANCE})
    if kind == "image":
        return wanted & (VISUAL | {Analyzer.PROVENANCE})
    return wanted


@dataclass
class _Visual:
    """The visual analyzers of one scan, fed sampled frames (and every frame for motion)."""

    spec: ScanSpec
    wanted: frozenset[str]
    info: MediaInfo
    clock: _Clock
    identity: FaceIdentityTracker | None = None
    manipulation: ManipulationTracker | None = None
    motion: FaceMotionTracker | None = None
    unavailable: dict[str, AnalyzerResult] = field(default_factory=dict)
    finder: FaceFinder = field(default_factory=FaceFinder)
    sampled: int = 0
    decoded: int = 0

    def __post_init__(self) -> None:
        interval = 1.0 / self.spec.sample_fps
        if self.wanted & {Analyzer.FACE_IDENTITY, Analyzer.IDENTITY_DRIFT}:
            expected = max(1, int(math.ceil((self.info.duration or 0.0) * self.spec.sample_fps)))
            embed_every = max(1, math.ceil(expected / max(self.spec.max_face_embeddings, 1)))
            self.identity = FaceIdentityTracker(
                self.spec.gallery,
                embed_every=embed_every,
                interval=interval,
                max_faces=self.spec.max_faces_per_frame,
            )
        if Analyzer.VISUAL_MANIPULATION in self.wanted:
            try:
                forgery_model()
                self.manipulation = ManipulationTracker(self.spec.evidence_frames, interval)
            except AnalyzerUnavailable as error:
                self.unavailable[Analyzer.VISUAL_MANIPULATION] = _unavailable(
                    Analyzer.VISUAL_MANIPULATION, error
                )
        if self.wanted & {Analyzer.LIP_SYNC, Analyzer.BLENDING_FLICKER} and self.info.kind == "video":
            self.motion = FaceMotionTracker(fps=self.info.fps or 25.0)

    def sample(
        self, rgb: NDArray[np.uint8], luma: NDArray[np.uint8], *, time: float, index: int, still: bool
    ) -> None:
        self.sampled += 1
        with self.clock.stage("face_detection"):
            found = detect(rgb, thorough=True) if still else self.finder.find(rgb)
            faces = found[: self.spec.max_faces_per_frame]
        if self.identity is not None:
            with self.clock.stage(Analyzer.FACE_IDENTITY):
                self.identity.add(rgb, faces, time=time)
        if self.manipulation is not None:
            with self.clock.stage(Analyzer.VISUAL_MANIPULATION):
                if faces or not still:
                    self.manipulation.add(rgb, faces, time=time, index=index)
                else:
                    self.manipulation.add_whole(rgb, time=time, index=index)
        if self.motion is not None:
            with self.clock.stage("face_motion"):
                self.motion.add_sample(luma, faces[0].points if faces else None)

    def frame(self, luma: NDArray[np.uint8]) -> None:
        if self.motion is not None:
            with self.clock.stage("face_motion"):
                self.motion.add_frame(luma)


def _visual_pass(
    spec: ScanSpec, info: MediaInfo, wanted: frozenset[str], clock: _Clock, report: Progress
) -> _Visual:
    visual = _Visual(spec, wanted, info, clock)
    if info.kind == "image":
        with clock.stage("decode"):
            still = image_frame(read_image(spec.path))
        visual.sample(still.rgb(), still.luma, time=0.0, index=0, still=True)
        visual.decoded = 1
        return visual
    interval = 1.0 / spec.sample_fps
    duration = min(info.duration or 0.0, spec.max_seconds or math.inf)
    next_sample = 0.0
    frames = iter_frames(spec.path, max_seconds=spec.max_seconds)
    while True:
        with clock.stage("decode"):
            frame = next(frames, None)
        if frame is None:
            break
        visual.decoded += 1
        if frame.time + 1e-6 >= next_sample:
            while next_sample <= frame.time + 1e-6:
                next_sample += interval
            with clock.stage("decode"):
                rgb = frame.rgb()
            visual.sample(rgb, frame.luma, time=frame.time, index=frame.index, still=False)
            report(0.1 + 0.7 * min(1.0, frame.time / duration if duration else 0.0), "frames")
        else:
            visual.frame(frame.luma)
    if visual.decoded == 0:
        raise DetectionError(
            f"No video frame could be decoded from '{spec.path.name}'.", code="media_undecodable"
        )
    return visual


def _visual_results(
    visual: _Visual, samples: NDArray[np.float32] | None, wanted: frozenset[str], clock: _Clock
) -> list[AnalyzerResult]:
    results: list[AnalyzerResult] = list(visual.unavailable.values())
    identity, manipulation, motion = visual.identity, visual.manipulation, visual.motion
    if identity is not None and Analyzer.FACE_IDENTITY in wanted:
        results.append(identity.result())
    if manipulation is not None:
        with clock.stage(Analyzer.VISUAL_MANIPULATION):
            results.append(manipulation.result())
    if motion is not None:
        motion.finish()
        if Analyzer.LIP_SYNC in wanted:
            with clock.stage(Analyzer.LIP_SYNC):
                results.append(lip_sync_result(motion, samples))
        if Analyzer.BLENDING_FLICKER in wanted:
            with clock.stage(Analyzer.BLENDING_FLICKER):
                results.append(flicker_result(motion))
    if identity is not None and Analyzer.IDENTITY_DRIFT in wanted:
        with clock.stage(Analyzer.IDENTITY_DRIFT):
            results.append(drift_result(identity.main_track_embeddings()))
    return results


def scan(spec: ScanSpec, progress: Progress | None = None) -> ScanResult:
    """Run the analyzers `spec` asks for over one file and return every result.

    Raises `DetectionInputError` for a file that is not readable media and `DetectionError` for
    an invalid request; an analyzer whose model is missing is reported as skipped instead.
    """
    unknown = set(spec.analyzers) - ALL_ANALYZERS
    if unknown:
        raise DetectionError(f"Unknown analyzers: {', '.join(sorted(unknown))}.", code="invalid_spec")
    if not spec.sample_fps > 0:
        raise DetectionError("The sampling rate must be positive.", code="invalid_spec")

    def report(fraction: float, stage: str) -> None:
        if progress is not None:
            progress(min(1.0, max(0.0, fraction)), stage)

    clock = _Clock()
    report(0.0, "probe")
    info = media_info(spec.path)
    wanted = _applicable(info.kind, frozenset(spec.analyzers))
    if info.kind != "video":
        wanted -= VIDEO_ONLY
    results: list[AnalyzerResult] = []

    if Analyzer.PROVENANCE in wanted:
        report(0.02, "provenance")
        if spec.provenance is None:
            results.append(
                AnalyzerResult(Analyzer.PROVENANCE, 0.0, False, 0.5, skipped="No provenance keys were given.")
            )
        else:
            with clock.stage(Analyzer.PROVENANCE):
                results.append(provenance_result(spec.path, info.container, spec.provenance))

    samples: NDArray[np.float32] | None = None
    if wanted & (AUDIO | {Analyzer.LIP_SYNC}) and info.has_audio:
        with clock.stage("audio_decode"):
            samples = read_audio(spec.path, max_seconds=spec.max_seconds)

    report(0.1, "frames")
    decoded = sampled = 0
    if info.kind in ("video", "image") and wanted & (VISUAL | VIDEO_ONLY):
        visual = _visual_pass(spec, info, wanted, clock, report)
        decoded, sampled = visual.decoded, visual.sampled
        results.extend(_visual_results(visual, samples, wanted, clock))

    report(0.85, "audio")
    if Analyzer.VOICE_IDENTITY in wanted:
        with clock.stage(Analyzer.VOICE_IDENTITY):
            results.append(
                _guarded(Analyzer.VOICE_IDENTITY, lambda: voice_identity(samples, spec.gallery)[0])
            )
    if Analyzer.SYNTHETIC_SPEECH in wanted:
        with clock.stage(Analyzer.SYNTHETIC_SPEECH):
            results.append(_guarded(Analyzer.SYNTHETIC_SPEECH, lambda: synthetic_speech_result(samples)))
    report(1.0, "done")
    order = {a.value: i for i, a in enumerate(Analyzer)}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    return ScanResult(
        kind=info.kind,
        duration=info.duration,
        results=tuple(results),
        frames_decoded=decoded,
        frames_sampled=sampled,
        timings=dict(clock.seconds),
    )
