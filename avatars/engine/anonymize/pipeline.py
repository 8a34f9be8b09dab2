"""The anonymization run: sound first, then every frame through the tracker, the replacer and the MP4.

1. The sound track is decoded to 16 kHz mono in a scratch file; a thread anonymizes it into a
   second one (keeping the clinician's speech when a voice template is given) and measures it,
   while the frames are worked on.
2. Frames are decoded one by one and searched for faces (on the decoding thread, ahead), then
   tracked; each waits in a half-second buffer, then, on the rendering thread, its non-kept faces
   are replaced, redaction boxes filled, and it is encoded together with the matching stretch of
   anonymized sound once that is ready (H.264 + AAC, a fresh container: no input metadata
   survives). Every `check_interval` seconds dlib, a detector independent of the engine's own,
   looks at the finished frame for any face that is not a kept one.

Every decision about a frame is taken on the main thread, in frame order, so the output is the
same whichever thread finishes first. Memory holds the buffer (about 13 frames), a few frames in
each queue between threads and the encoder's own look-ahead, whatever the length.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize import identity, voice
from avatars.engine.anonymize.detect import box_iou
from avatars.engine.anonymize.errors import AnonymizeError
from avatars.engine.anonymize.replace import Region, Replacer, redact
from avatars.engine.anonymize.specs import (
    AnonymizeResult,
    AnonymizeSpec,
    Progress,
    ResidualFace,
    TrackReport,
)
from avatars.engine.anonymize.streams import FrameReader, FrameWriter, Worker
from avatars.engine.anonymize.synthetic import LOOKS, Look
from avatars.engine.anonymize.track import (
    BufferedFrame,
    DetectionSchedule,
    Observation,
    Track,
    Tracker,
    half_size,
)
from avatars.engine.compose import Overlay, disclosure_overlay
from avatars.engine.errors import EngineError
from core.media import decode
from core.media.errors import MediaError

#: Frames wait this long before they are written, so tracks can look ahead (and behind) that far.
BUFFER_SECONDS = 0.5
MAX_SIDE = 4096
MIN_SIDE = 16
#: dlib distance below which a face in the output is still the original person.
SAME_PERSON_DISTANCE = 0.6
#: A drawn face must stay at least this far (dlib distance) from the person it replaces, measured
#: on every identity sample; a margin over the 0.6 same-person threshold, since the distance moves
#: with pose and expression between samples (by up to 0.1 frame to frame on a DFDC actor).
LOOK_DISTANCE = 0.7
#: A new look is chosen at least this far from the person where one is, so that it lasts.
LOOK_CHOICE_DISTANCE = 0.8
#: A face is sampled for identity only when it is this frontal (cosine of the turn) and this tall.
FRONTAL_COSINE = 0.8
MIN_SAMPLE_FACE_PIXELS = 48
#: Faces that are not kept are identified this many times at most when nothing is enrolled (only
#: the report needs them then).
REPORT_SAMPLES = 3

NOT_HANDLED = (
    "Text in the picture (names on screens, badges, documents) is removed only inside the "
    "redaction boxes drawn by the user.",
    "Voices are changed, not removed: the words, accent, speaking style and anything said "
    "aloud (names, dates, places) remain.",
    "Bodies, clothing, tattoos, jewellery, the room and other people's belongings are unchanged.",
    "Faces smaller than about 25 pixels, or turned fully away, may not be detected; the "
    "independent check samples frames and sees faces from about 80 pixels at 360p.",
    "This is not de-identification in the HIPAA sense: faces and voices are two of the 18 Safe "
    "Harbor identifiers, and other identifiers may remain in the picture or the speech.",
)


def _report(progress: Progress | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), stage)


def _validate(spec: AnonymizeSpec) -> None:
    if spec.mode not in ("synthetic", "mask", "blur"):
        raise AnonymizeError(
            f"Unknown replacement mode '{spec.mode}'; choose synthetic, mask or blur.", code="invalid_spec"
        )
    for embedding in spec.keep_faces:
        if np.shape(embedding) != (128,):
            raise AnonymizeError(
                "A face to keep is not a 128-value dlib embedding; enroll that face again.",
                code="invalid_spec",
            )
    if spec.keep_voice is not None and np.shape(spec.keep_voice) != (256,):
        raise AnonymizeError(
            "The clinician's voice template is not a 256-value resemblyzer embedding; enroll the voice again.",
            code="invalid_spec",
        )
    for box in spec.redactions:
        if len(box.box) != 4 or not all(0.0 <= v <= 1.0 for v in box.box):
            raise AnonymizeError(
                "A redaction box lies outside the picture; draw it again.", code="invalid_spec"
            )
        if box.end is not None and box.end < box.start:
            raise AnonymizeError("A redaction box ends before it starts.", code="invalid_spec")
    if spec.check_interval < 0 or spec.identity_interval <= 0:
        raise AnonymizeError("Check intervals must be positive.", code="invalid_spec")
    if spec.output.resolve() == spec.input.resolve():
        raise AnonymizeError("The output must not overwrite the original recording.", code="invalid_spec")


def _open(path: Path) -> Any:
    if not path.is_file() or path.stat().st_size == 0:
        raise AnonymizeError(
            f"The recording '{path.name}' is missing or empty; upload it again.", code="file_missing"
        )
    try:
        return decode.open_input(path)
    except MediaError as exc:
        raise AnonymizeError(
            f"'{path.name}' is not a readable video (it may be damaged or cut short); export it again.",
            code="file_corrupt",
        ) from exc


def _to_rgb(frame: Any) -> NDArray[np.uint8]:
    rgb = decode.to_rgb(frame)
    turns = round((frame.rotation or 0) / 90) % 4
    # Phones store portrait video sideways with a display rotation; faces must be upright for the
    # detectors, and the output (which carries no metadata) must show them upright.
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _frames(path: Path) -> Iterator[tuple[NDArray[np.uint8], float]]:
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                yield _to_rgb(frame), float(frame.time or 0.0)
        except av.FFmpegError as exc:
            raise AnonymizeError(
                f"Decoding '{path.name}' failed part-way; the file may be damaged. Export it again.",
                code="file_corrupt",
            ) from exc


class _Input:
    """Facts about the input, from its first decodable frame."""

    def __init__(self, path: Path) -> None:
        import av

        with _open(path) as container:
            if not container.streams.video:
                raise AnonymizeError(f"'{path.name}' contains no video.", code="video_missing")
            stream = container.streams.video[0]
            try:
                first = next(container.decode(stream))
            except (StopIteration, av.FFmpegError) as exc:
                raise AnonymizeError(
                    f"No picture could be decoded from '{path.name}'; the file may be damaged.",
                    code="file_corrupt",
                ) from exc
            rgb = _to_rgb(first)
            self.height, self.width = rgb.shape[:2]
            self.start = float(first.time or 0.0)
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            self.rate = Fraction(rate).limit_denominator(1001)
            if not 1 <= self.rate <= 240:
                self.rate = Fraction(25)
            self.fps = float(self.rate)
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else (container.duration or 0) / 1_000_000
            )
            self.frame_estimate = max(1, int(stream.frames or round(duration * self.fps)))
            self.has_audio = bool(container.streams.audio)
        if min(self.width, self.height) < MIN_SIDE or max(self.width, self.height) > MAX_SIDE:
            raise AnonymizeError(
                f"The video is {self.width}x{self.height} pixels; anonymization takes {MIN_SIDE} to "
                f"{MAX_SIDE} pixels a side.",
                code="video_size",
            )


def _decode_audio(path: Path, target: Path, video_start: float) -> int:
    """Decode the first audio stream to 16 kHz mono float32 in `target`, aligned so sample 0 is
    the first video frame's time; returns the sample count."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=voice.RATE)
    count = 0
    skip: int | None = None
    with _open(path) as container, target.open("wb") as out:
        stream = container.streams.audio[0]

        def emit(chunk: NDArray[np.float32]) -> None:
            nonlocal count
            out.write(chunk.astype("<f4").tobytes())
            count += len(chunk)

        try:
            for frame in container.decode(stream):
                if skip is None:
                    offset = (float(frame.time) if frame.time is not None else video_start) - video_start
                    skip = max(0, round(-offset * voice.RATE))
                    if offset > 0:
                        emit(np.zeros(round(offset * voice.RATE), dtype=np.float32))
                for converted in resampler.resample(frame):
                    samples = converted.to_ndarray().reshape(-1).astype(np.float32)
                    drop = min(skip, len(samples))
                    skip -= drop
                    emit(samples[drop:])
            for converted in resampler.resample(None):
                emit(converted.to_ndarray().reshape(-1).astype(np.float32)[skip or 0 :])
        except av.FFmpegError as exc:
            raise AnonymizeError(
                f"The sound of '{path.name}' could not be decoded (the file may be damaged).",
                code="file_corrupt",
            ) from exc
    return count


class _Run:
    """State of one run; `anonymize()` below drives it."""

    def __init__(
        self,
        spec: AnonymizeSpec,
        info: _Input,
        seed: int,
        out: FrameWriter,
        audio: NDArray[np.float32] | None,
        audio_ready: threading.Event | None = None,
    ) -> None:
        self.spec = spec
        self.info = info
        self.out = out
        self.width, self.height = info.width - info.width % 2, info.height - info.height % 2
        self.audio = audio
        #: Set once the anonymized sound is complete; until then frames are encoded without it.
        self.audio_ready = audio_ready
        self.audio_written = 0
        self.replacer = Replacer(spec.mode, seed)
        #: Draws looks on copies of frames to measure them (main thread; `replacer` is the
        #: rendering thread's).
        self.trial = Replacer("synthetic", 0)
        self.buffer: deque[BufferedFrame] = deque()
        self.tracker = Tracker(width=info.width, height=info.height, fps=info.fps, buffer=self.buffer)
        self.depth = max(2, round(BUFFER_SECONDS * info.fps))
        self.keep = [np.asarray(e, dtype=np.float64) for e in spec.keep_faces]
        self.check_every = max(1, round(spec.check_interval * info.fps)) if spec.check_interval > 0 else 0
        self.sample_every = max(1, round(spec.identity_interval * info.fps))
        self.pending_output_checks: dict[int, list[tuple[Track, identity.Sample]]] = {}
        self.rng = np.random.default_rng(seed + 1)
        self.written = 0
        self.emitted = 0
        self.checked = 0
        self.redacted = 0
        self.residual: list[ResidualFace] = []
        self.label = _label_overlay(spec.label, self.width, self.height) if spec.label else None
        self.render_thread = Worker("anonymize-render")

    # --- identity -------------------------------------------------------------------------

    def sample_identities(self, frame: BufferedFrame) -> None:
        self.guard_crossings(frame.index)
        synthetic = self.spec.mode == "synthetic"
        looks: list[tuple[Track, Observation, identity.Sample]] = []
        for track in self.tracker.tracks:
            observation = track.observations.get(frame.index)
            if (
                track.ended
                or observation is None
                or observation.kind != "mesh"
                or frame.index < track.next_sample
            ):
                continue
            # With nothing enrolled only the report needs samples, except that a drawn face is
            # re-checked against the person on every sample (see `check_look`).
            if not self.keep and not synthetic and len(track.originals) >= REPORT_SAMPLES:
                continue
            expression = observation.expression
            if (
                expression is None
                or expression.rotation[2, 2] < FRONTAL_COSINE
                or 2 * expression.unit < MIN_SAMPLE_FACE_PIXELS
            ):
                continue
            track.sample_attempts += 1
            sample = identity.sample_near(frame.rgb, observation.box)
            if sample is None:
                track.next_sample = frame.index + max(1, self.sample_every // 4)
                continue
            embedding = sample.embedding
            if not track.originals and synthetic:
                # Someone new: every drawn look is measured against them on the next frame.
                for other in self.tracker.tracks:
                    if other is not track and not other.keep and other.originals:
                        other.next_sample = min(other.next_sample, frame.index + 1)
            track.originals = [*track.originals[-4:], embedding]
            if self.keep:
                distance = identity.distance(embedding, self.keep)
                track.keep_distances.append(distance)
                # The latest look decides: a kept face that no longer matches (a crossing, a
                # tracker swap) is replaced from the frames still in the buffer onwards.
                track.keep = distance < self.spec.face_keep_distance
            if synthetic and not track.keep:
                looks.append((track, observation, sample))
            self.pending_output_checks.setdefault(frame.index, []).append((track, sample))
            interval = self.sample_every if track.keep or synthetic else 2 * self.sample_every
            track.next_sample = frame.index + interval
        # Looks once everyone in this frame has been sampled, so each is measured against them all.
        for track, observation, sample in looks:
            others = [
                t.originals[-1] for t in self.tracker.tracks if t is not track and t.originals and not t.ended
            ]
            self.check_look(track, frame.rgb, observation, sample, others)

    def guard_crossings(self, index: int) -> None:
        """A kept face that touches another face is replaced until it is identified again.

        Where two faces meet, a tracker can swap them; without this, a swapped patient would stay
        visible until the next scheduled identity check.
        """
        boxes = [(t, t.box_at(index)) for t in self.tracker.tracks if not t.ended]
        for track, box in boxes:
            if not track.keep or box is None:
                continue
            for other, other_box in boxes:
                if other is not track and other_box is not None and box_iou(box, other_box) > 0.0:
                    track.keep = False
                    track.next_sample = min(track.next_sample, index + max(1, self.sample_every // 4))
                    break

    def check_look(
        self,
        track: Track,
        rgb: NDArray[np.uint8],
        observation: Observation,
        sample: identity.Sample,
        others: list[NDArray[np.float64]],
    ) -> None:
        """Give a replaced track a drawn look, and change it when it comes near a real person.

        The distance between a drawn face and the person it replaces drifts with pose and
        expression, so the look chosen on the first sample is measured again on every later one
        (once a second); below `LOOK_DISTANCE` another look is chosen on this frame, from here
        (and the frames still in the buffer) onwards. `others` are the other people in the video
        (their latest samples): a drawn face must not pass for any of them either.
        """
        people = [sample.embedding, *others]
        if (
            track.look is not None
            and self.look_distance(rgb, observation, sample, track.look, people) >= LOOK_DISTANCE
        ):
            return
        if track.look is not None:
            track.look_changes += 1
        track.look = self.choose_look(rgb, observation, sample, people)

    def look_distance(
        self,
        rgb: NDArray[np.uint8],
        observation: Observation,
        sample: identity.Sample,
        look: int,
        people: list[NDArray[np.float64]],
    ) -> float:
        """dlib distance from the face drawn with `LOOKS[look]` over `sample`'s face in `rgb` to the
        nearest of `people` (embeddings; the replaced person first).

        The drawn face is embedded twice and the nearer counts: at the person's own landmarks, and
        where dlib finds the drawn face by itself (what an independent check of the output does).
        """
        picture = rgb.copy()
        self.trial.apply(picture, observation.region, observation.expression, LOOKS[look])
        drawn = [identity.embed_at(picture, sample)]
        found = identity.sample_near(picture, sample.box)
        if found is not None:
            drawn.append(found.embedding)
        return min(float(np.linalg.norm(face - person)) for face in drawn for person in people)

    def choose_look(
        self,
        rgb: NDArray[np.uint8],
        observation: Observation,
        sample: identity.Sample,
        people: list[NDArray[np.float64]],
    ) -> int:
        """A look for a replaced face that dlib does not confuse with the person it replaces, nor
        with anyone else in `people`.

        Looks are tried in a random order and the first one at least `LOOK_CHOICE_DISTANCE` from
        the person is used (the farthest if none is). Random order rather than "always the
        farthest", so the look chosen says as little as possible about the person's own colouring
        and proportions.
        """
        best, best_distance = 0, -1.0
        for look in self.rng.permutation(len(LOOKS)):
            distance = self.look_distance(rgb, observation, sample, int(look), people)
            if distance >= LOOK_CHOICE_DISTANCE:
                return int(look)
            if distance > best_distance:
                best, best_distance = int(look), distance
        return best

    # --- one frame out -------------------------------------------------------------------

    def emit(self, frame: BufferedFrame) -> None:
        """Decide what happens to a frame leaving the buffer (main thread) and hand it to the
        rendering thread, which changes its pixels and encodes it."""
        index = frame.index
        kept: list[Region] = []
        replaced: list[tuple[Track, Observation]] = []
        for track in self.tracker.tracks:
            observation = self.tracker.at(track, index)
            if observation is None:
                continue
            if observation.kind in ("mesh", "detector"):
                track.seen_frames += 1
            else:
                track.filled_frames += 1
            track.rendered_last = index
            if track.keep:
                track.kept_frames += 1
                kept.append(observation.region)
            else:
                track.replaced_frames += 1
                replaced.append((track, observation))
        paints = [
            (
                observation,
                LOOKS[track.id % len(LOOKS) if track.look is None else track.look],
            )
            for track, observation in replaced
        ]
        output_checks = [(t, sample) for t, sample in self.pending_output_checks.pop(index, []) if not t.keep]
        # The tracks' identity samples as they are now (the main thread replaces the list, never
        # changes it), for the independent check on the rendering thread.
        owners = [(observation.region, track.originals) for track, observation in replaced]
        check = bool(self.check_every and index % self.check_every == 0)
        self.render_thread.submit(self.render, frame, paints, output_checks, check, kept, owners)
        self.tracker.forget_before(index)
        self.emitted += 1

    def render(
        self,
        frame: BufferedFrame,
        paints: list[tuple[Observation, Look]],
        output_checks: list[tuple[Track, identity.Sample]],
        check: bool,
        kept: list[Region],
        owners: list[tuple[Region, list[NDArray[np.float64]]]],
    ) -> None:
        """Replace, redact, check and encode one frame (rendering thread, frames in order)."""
        rgb = frame.rgb
        for observation, look in paints:
            self.replacer.apply(rgb, observation.region, observation.expression, look)
        redacted = False
        for box in self.spec.redactions:
            if box.active(frame.time - self.info.start):
                redact(rgb, box.box)
                redacted = True
        self.redacted += redacted
        for track, sample in output_checks:
            track.output_checks += 1
            after = identity.embed_at(rgb, sample)
            track.output_distances.append(float(np.linalg.norm(after - sample.embedding)))
        if check:
            self.check(frame, kept, owners)
        if self.label is not None:
            self.label.apply(rgb)
        self.write(rgb, frame.time)

    def check(
        self,
        frame: BufferedFrame,
        kept: list[Region],
        owners: list[tuple[Region, list[NDArray[np.float64]]]],
    ) -> None:
        """The independent check: dlib looks at the finished frame for faces that are not kept."""
        self.checked += 1
        for face in identity.faces_in(frame.rgb):
            centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
            if any(_inside(region, centre) for region in kept):
                continue
            owner = next((originals for region, originals in owners if _inside(region, centre)), None)
            if owner is None:
                kind, distance = "untracked", None
            else:
                distance = identity.distance(identity.embed(frame.rgb, face), owner) if owner else None
                kind = (
                    "same_person" if distance is not None and distance < SAME_PERSON_DISTANCE else "synthetic"
                )
            self.residual.append(
                ResidualFace(
                    frame.index,
                    frame.time - self.info.start,
                    face.box,
                    kind,
                    None if distance is None or math.isinf(distance) else distance,
                )
            )

    def write(self, rgb: NDArray[np.uint8], when: float) -> None:
        # Constant frame rate out: a variable-rate input's frames are repeated or dropped to
        # their nearest slot, which keeps the picture in step with the sound.
        slot = round((when - self.info.start) * self.info.fps)
        copies = 1 if self.written == 0 else max(0, slot - self.written + 1)
        picture = rgb[: self.height, : self.width]
        for _ in range(copies):
            self.out.frame(picture)
            self.written += 1
        self.write_audio(round(self.written / self.info.fps * voice.RATE))

    def write_audio(self, until: int) -> None:
        """Encode the anonymized sound up to sample `until`, once it is ready (the sound that
        could not be written yet follows in one piece; the MP4 keeps each track's timing)."""
        if self.audio is None or (self.audio_ready is not None and not self.audio_ready.is_set()):
            return
        until = min(until, len(self.audio))
        if until > self.audio_written:
            self.out.audio(np.array(self.audio[self.audio_written : until], dtype=np.float32))
            self.audio_written = until


class _VoiceJob:
    """The sound's anonymization on its own thread, side by side with the face work (numpy,
    SciPy and torch release the interpreter lock for most of it).

    `ready` is set when the anonymized sound is complete, never after a failure. A run stopped
    part-way (cancelled, failed) does not wait for it: the thread ends by itself, writing into
    scratch files that are already deleted.
    """

    def __init__(self, work: Callable[[], voice.VoiceReport]) -> None:
        self.ready = threading.Event()
        self._report: voice.VoiceReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="anonymize-voice", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], voice.VoiceReport]) -> None:
        try:
            self._report = work()
            self.ready.set()
        except BaseException as exc:  # raised on the main thread
            self._error = exc

    def raise_failure(self) -> None:
        """Raise what the thread raised, if it has failed already."""
        if self._error is not None:
            raise self._error

    def result(self) -> voice.VoiceReport:
        self._thread.join()
        self.raise_failure()
        assert self._report is not None
        return self._report


def _label_overlay(text: str, width: int, height: int) -> Overlay:
    """The studio's disclosure-label box (avatars.engine.compose), as an AnonymizeError if it cannot fit."""
    try:
        return disclosure_overlay(text, width, height)
    except EngineError as exc:
        raise AnonymizeError(exc.message, code="invalid_spec") from exc


def _inside(region: Region, point: tuple[float, float]) -> bool:
    contour = region.outer.astype(np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def _track_report(track: Track) -> TrackReport:
    return TrackReport(
        track_id=track.id,
        first_frame=track.first_frame,
        last_frame=track.rendered_last,
        seen_frames=track.seen_frames,
        filled_frames=track.filled_frames,
        kept_frames=track.kept_frames,
        replaced_frames=track.replaced_frames,
        identity_samples=len(track.keep_distances) if track.keep_distances else len(track.originals),
        keep_distances=(min(track.keep_distances), max(track.keep_distances))
        if track.keep_distances
        else None,
        output_checks=track.output_checks,
        output_distance=min(track.output_distances) if track.output_distances else None,
    )


def anonymize(spec: AnonymizeSpec, progress: Progress | None = None) -> AnonymizeResult:
    """Anonymize `spec.input` into `spec.output` (MP4, H.264 + AAC) and measure the result.

    Raises `AnonymizeError` for anything the uploader can act on; whatever the progress callback
    raises (e.g. `AnonymizeCancelled`) propagates. No partial output is left behind either way.
    """
    from core.media.mp4 import Mp4Writer

    started = time.monotonic()
    _validate(spec)
    info = _Input(spec.input)
    seed = spec.seed if spec.seed is not None else secrets.randbits(63)
    rng = np.random.default_rng(seed)
    change = voice.draw_change(rng)
    partial = spec.output.with_name(spec.output.name + ".partial")
    width, height = info.width - info.width % 2, info.height - info.height % 2
    with tempfile.TemporaryDirectory(prefix="anonymize-") as scratch:
        audio: NDArray[np.float32] | None = None
        voice_job: _VoiceJob | None = None
        voice_report = voice.VoiceReport(has_audio=False)
        _report(progress, 0.0, "voice")
        if info.has_audio:
            raw = Path(scratch) / "original.f32"
            count = _decode_audio(spec.input, raw, info.start)
            if count:
                source = np.memmap(raw, dtype=np.float32, mode="r", shape=(count,))
                audio = target = np.memmap(
                    Path(scratch) / "anonymized.f32", dtype=np.float32, mode="w+", shape=(count,)
                )
                keep_voice = (
                    None if spec.keep_voice is None else np.asarray(spec.keep_voice, dtype=np.float64)
                )

                def change_voice() -> voice.VoiceReport:
                    return voice.anonymize_voice(
                        source,
                        target,
                        change=change,
                        keep_voice=keep_voice,
                        keep_threshold=spec.voice_keep_similarity,
                    )

                voice_job = _VoiceJob(change_voice)
            else:
                voice_report = voice.VoiceReport(has_audio=True)
        _report(progress, 0.1, "faces")
        try:
            with Mp4Writer(
                partial,
                width=width,
                height=height,
                fps=info.rate,
                with_audio=audio is not None,
                audio_rate=voice.RATE,
            ) as writer:
                out = FrameWriter(writer)
                schedule = DetectionSchedule(info.width)

                def prepare(index: int, rgb: NDArray[np.uint8], when: float) -> BufferedFrame:
                    half = half_size(rgb)
                    # A frame of another size is refused on the main thread: not searched here.
                    same_size = rgb.shape[:2] == (info.height, info.width)
                    return BufferedFrame(index, rgb, half, when, schedule(index, half) if same_size else [])

                reader = FrameReader(lambda: _frames(spec.input), prepare)
                run = _Run(
                    spec,
                    info,
                    int(rng.integers(2**31)),
                    out,
                    audio,
                    None if voice_job is None else voice_job.ready,
                )
                try:
                    for frame in reader:
                        if frame.rgb.shape[:2] != (info.height, info.width):
                            raise AnonymizeError(
                                "The picture size changes during the video; export it again at one size.",
                                code="video_size",
                            )
                        run.buffer.append(frame)
                        run.tracker.update(frame)
                        run.sample_identities(frame)
                        while len(run.buffer) > run.depth:
                            run.emit(run.buffer.popleft())
                        if frame.index % 10 == 9:
                            if voice_job is not None:
                                voice_job.raise_failure()
                            _report(
                                progress,
                                0.1 + 0.88 * min(1.0, (frame.index + 1) / info.frame_estimate),
                                "faces",
                            )
                    while run.buffer:
                        run.emit(run.buffer.popleft())
                    if voice_job is not None:
                        voice_report = voice_job.result()
                    if audio is not None:
                        run.render_thread.submit(run.write_audio, len(audio))
                    run.render_thread.finish()
                    out.finish()
                except BaseException:
                    # The rendering and encoder threads must be idle before the writer is aborted.
                    with contextlib.suppress(BaseException):
                        run.render_thread.abort()
                    with contextlib.suppress(BaseException):
                        out.finish()
                    raise
                finally:
                    reader.close()
            partial.replace(spec.output)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    _report(progress, 1.0, "finishing")
    tracks = sorted([*run.tracker.finished, *run.tracker.tracks], key=lambda t: t.id)
    return AnonymizeResult(
        output=spec.output,
        mode=spec.mode,
        width=width,
        height=height,
        fps=info.fps,
        frames=run.written,
        duration=run.written / info.fps,
        tracks=tuple(_track_report(t) for t in tracks if t.rendered_last >= 0),
        checked_frames=run.checked,
        residual_faces=tuple(run.residual),
        redacted_frames=run.redacted,
        voice=voice_report,
        seconds=time.monotonic() - started,
        not_handled=NOT_HANDLED,
    )
