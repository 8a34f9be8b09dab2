"""Consent statement check: is the person on camera the enrolled clinician, speaking live?

Before a likeness consent becomes active the clinician records a short statement on camera (SPEC
§3.2 "Consent evidence"). Three independent checks decide whether it counts as evidence:

* **face**: in most sampled frames there is exactly one face, and its 128-d dlib embedding is
  close to the enrolled likeness (median distance to the centre of the enrolled embeddings);
* **voice**: the resemblyzer speaker embedding of the statement's speech is close (cosine) to the
  enrolled voice sample's;
* **liveness**: the face moves like a live speaker's, not like a photo turned into a video. Each
  pair of consecutive face crops is aligned (landmarks, then an affine ECC refinement), so zoom,
  pan and camera shake cancel out; what is left is non-rigid change. Talking moves the mouth far
  more than the eyes; a still photo, however it is zoomed or shaken, changes the same everywhere.
  The mouth's change must also follow the change of speech loudness (the change-based lip-sync
  measure of `bench/avatar_quality.py`, here in unsigned form so it needs no mouth-opening model).

Thresholds come from measurements on `../shared/media` (see `StatementThresholds`). The result
carries every score and threshold, per-check verdicts and messages a clinician can act on;
`StatementCheckResult.ledger_scores()` gives them as integers for the ledger's canonical JSON.

Command line (prints the result as JSON)::

    python -m avatars.engine.statement STATEMENT --enrollment FOOTAGE [--voice SAMPLE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import EngineError, EnrollmentError, InvalidSpecError, MediaInputError
from avatars.engine.media import iter_video_frames, probe_video, read_audio
from avatars.engine.specs import Progress
from avatars.engine.speech import SAMPLE_RATE, speech_energy
from core.media.faces import CANONICAL_POINTS, Face, detect_faces, similarity_to
from core.media.loaders.dlib_faces import face_encoder
from core.media.loaders.resemblyzer_voice import VOICE_SAMPLE_RATE, voice_encoder

#: Enrollment voice beyond this is not embedded: two minutes of speech pin a voice down, and the
#: encoder's cost grows linearly with length.
MAX_VOICE_SECONDS = 120.0

#: Canonical face crop for the liveness measure, in face units (outer-eye distance = 1, origin
#: between the eyes, nose base at y = 0.5) and pixels per unit.
_CROP_PX = 64
_CROP_LEFT, _CROP_TOP, _CROP_RIGHT, _CROP_BOTTOM = -0.9, -0.6, 0.9, 1.5
_CROP_SIZE = (int((_CROP_RIGHT - _CROP_LEFT) * _CROP_PX), int((_CROP_BOTTOM - _CROP_TOP) * _CROP_PX))
#: Liveness needs this many consecutive frame pairs with a face to say anything.
MIN_LIVENESS_PAIRS = 20
LIP_SYNC_MAX_OFFSET = 2


def _crop_region(top: float, bottom: float, left: float, right: float) -> tuple[slice, slice]:
    return (
        slice(int((top - _CROP_TOP) * _CROP_PX), int((bottom - _CROP_TOP) * _CROP_PX)),
        slice(int((left - _CROP_LEFT) * _CROP_PX), int((right - _CROP_LEFT) * _CROP_PX)),
    )


_MOUTH = _crop_region(0.7, 1.35, -0.55, 0.55)
_EYES = _crop_region(-0.3, 0.3, -0.75, 0.75)
_FACE = _crop_region(-0.5, 1.35, -0.75, 0.75)


@dataclass(frozen=True)
class StatementThresholds:
    """Decision thresholds; the defaults are justified by measurements on `../shared/media`.

    * `max_face_distance` 0.5: dlib's usual 0.6 is too loose here; two different GRID speakers'
      clips are 0.59 apart, while the same person's clips or clip halves measure 0.11-0.24.
    * `min_voice_similarity` 0.78: LibriSpeech (10 speakers, five utterances enrolled, five
      probes of 1.4-20 s each) gives 0.805-0.97 for the same speaker and at most 0.753 (99th
      percentile 0.73) for another; 0.78 sits in that gap. Halves of one retalking clip: 0.82-0.86.
    * `min_mouth_motion` 0.010 (mouth change beyond eye change between consecutive aligned
      frames, in face-contrast units, 75th percentile over pairs): 14 real clips (GRID and
      retalking) 0.019-0.099; the same clips' frames as a still, a slow zoom or a shaken photo,
      -0.007-0.003.
    * `min_lip_sync` 0.15 (correlation of that mouth change with the change of speech loudness,
      best within ±2 frames): real clips 0.25-0.67. It is a floor against dubbing, not the still
      detector: on 3-5 s clips another clip's speech still reaches 0.08-0.51 (stills: up to 0.29),
      so it only catches picture and sound that clearly do not belong together.
    """

    max_face_distance: float = 0.5
    min_single_face_share: float = 0.6
    min_voice_similarity: float = 0.78
    min_speech_seconds: float = 1.0
    min_mouth_motion: float = 0.010
    min_lip_sync: float = 0.15


@dataclass(frozen=True)
class StatementCheckSpec:
    """What to check: the statement video and the clinician's enrolled likeness and voice.

    The likeness is `enrollment` footage, or stored `face_embeddings` (128 floats each) from
    `enrolled_face_embeddings`; the voice is `voice_sample`, or a stored `voice_embedding` from
    `speaker_embedding`, and falls back to the enrollment footage's own sound. Stored embeddings
    win over files, so a stored template is never recomputed.
    """

    statement: Path
    enrollment: Path | None = None
    face_embeddings: Sequence[Sequence[float]] = ()
    voice_sample: Path | None = None
    voice_embedding: Sequence[float] = ()
    thresholds: StatementThresholds = field(default_factory=StatementThresholds)
    #: Frames spread over the recording that get a face embedding (about 80 ms each).
    max_samples: int = 60
    #: Consecutive frames analysed for liveness (10 s at 25 fps), taken from the middle.
    liveness_frames: int = 250
    #: Only this much of a (too long) statement is analysed.
    max_seconds: float = 120.0


@dataclass(frozen=True)
class StatementCheckResult:
    """Every score, the thresholds used, each check's verdict and what the clinician should do.

    A score is None where it could not be measured (no face, no speech); that check then fails.
    """

    face_distance: float | None
    single_face_share: float
    several_faces_share: float
    voice_similarity: float | None
    speech_seconds: float
    mouth_motion: float | None
    lip_sync: float | None
    face_passed: bool
    voice_passed: bool
    liveness_passed: bool
    reasons: tuple[str, ...]
    thresholds: StatementThresholds
    sampled_frames: int
    liveness_pairs: int

    @property
    def passed(self) -> bool:
        """True when the face, the voice and liveness all pass."""
        return self.face_passed and self.voice_passed and self.liveness_passed

    def ledger_scores(self) -> dict[str, int | bool]:
        """Scores and thresholds in thousandths (the ledger's canonical JSON refuses floats).

        An unmeasured score is left out rather than written as a sentinel number.
        """
        scores: dict[str, int | bool] = {
            "passed": self.passed,
            "face_passed": self.face_passed,
            "voice_passed": self.voice_passed,
            "liveness_passed": self.liveness_passed,
            "single_face_share_milli": _milli(self.single_face_share),
            "several_faces_share_milli": _milli(self.several_faces_share),
            "speech_milliseconds": _milli(self.speech_seconds),
            "sampled_frames": self.sampled_frames,
            "liveness_pairs": self.liveness_pairs,
        }
        for name, value in (
            ("face_distance_milli", self.face_distance),
            ("voice_similarity_milli", self.voice_similarity),
            ("mouth_motion_milli", self.mouth_motion),
            ("lip_sync_milli", self.lip_sync),
        ):
            if value is not None:
                scores[name] = _milli(value)
        for name, threshold in asdict(self.thresholds).items():
            scores[f"{name}_milli"] = _milli(threshold)
        return scores


def _milli(value: float) -> int:
    return int(round(value * 1000))


def enrolled_face_embeddings(path: Path, *, max_samples: int = 30) -> NDArray[np.float64]:
    """128-d face embeddings of up to `max_samples` frames spread over enrollment footage.

    Only frames with exactly one face count. Raises `EnrollmentError` when none has one.
    """
    info = probe_video(path)
    stride = max(1, math.ceil(info.frame_count / max_samples)) if info.frame_count else 5
    encoder = face_encoder()
    embeddings: list[NDArray[np.float64]] = []
    for index, frame in enumerate(iter_video_frames(path)):
        if len(embeddings) >= max_samples:
            break
        if index % stride:
            continue
        faces = detect_faces(frame)
        if len(faces) == 1:
            embeddings.append(encoder.embed(frame, faces[0]))
    if not embeddings:
        raise EnrollmentError(
            f"No single face was found in the enrollment footage '{path.name}'; record it again alone, "
            "facing the camera.",
            code="no_face",
        )
    return np.stack(embeddings)


def speaker_embedding(path: Path) -> NDArray[np.float64]:
    """The resemblyzer speaker embedding (256 floats, unit length) of a voice sample's speech.

    Accepts audio or video files. Raises `EnrollmentError` when the sample holds no speech.
    """
    encoder = voice_encoder()
    samples = read_audio(path)[: int(MAX_VOICE_SECONDS * SAMPLE_RATE)]
    speech = encoder.speech(samples)
    if len(speech) < VOICE_SAMPLE_RATE:
        raise EnrollmentError(
            f"No speech was heard in the voice sample '{path.name}'; record it again speaking clearly, "
            "close to the microphone.",
            code="no_speech",
        )
    return encoder.embed(speech)


@dataclass
class _FaceScan:
    single: int = 0
    several: int = 0
    sampled: int = 0
    distances: list[float] = field(default_factory=list)
    crops: list[NDArray[np.float32] | None] = field(default_factory=list)
    fps: float = 25.0
    window_start: int = 0


def _face_crop(rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float32]:
    import cv2

    target = (CANONICAL_POINTS - [_CROP_LEFT, _CROP_TOP]) * _CROP_PX
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    crop = cv2.warpAffine(
        gray,
        similarity_to(face.points, target),
        _CROP_SIZE,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    # Blurring removes sensor and codec grain, which would otherwise count as motion.
    return np.asarray(cv2.GaussianBlur(crop.astype(np.float32), (5, 5), 1.0), dtype=np.float32)


def _count_video_packets(path: Path) -> int:
    """The number of pictures in the first video stream, from its packets (nothing decoded)."""
    from core.media.decode import open_input

    with open_input(path) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _scan_statement(
    spec: StatementCheckSpec, centre: NDArray[np.float64], progress: Progress | None
) -> _FaceScan:
    info = probe_video(spec.statement)
    limit = int(spec.max_seconds * info.fps)
    # A browser's MediaRecorder writes WebM without a frame count or duration: count the frames'
    # packets, or the liveness window would be placed past the end of a short live statement.
    frames = info.frame_count or _count_video_packets(spec.statement)
    expected = min(limit, frames) if frames else limit
    stride = max(1, math.ceil(expected / spec.max_samples))
    scan = _FaceScan(fps=info.fps, window_start=max(0, (expected - spec.liveness_frames) // 2))
    window_end = scan.window_start + spec.liveness_frames
    encoder = face_encoder()
    for index, frame in enumerate(iter_video_frames(spec.statement)):
        if index >= limit:
            break
        sampled = index % stride == 0 and scan.sampled < spec.max_samples
        in_window = scan.window_start <= index < window_end
        if not (sampled or in_window):
            continue
        faces = detect_faces(frame)
        if sampled:
            scan.sampled += 1
            if len(faces) == 1:
                scan.single += 1
                scan.distances.append(float(np.linalg.norm(encoder.embed(frame, faces[0]) - centre)))
            elif len(faces) > 1:
                scan.several += 1
        if in_window:
            # With several faces the largest is the one speaking to the camera.
            scan.crops.append(_face_crop(frame, faces[0]) if faces else None)
        if progress is not None and index % 25 == 0:
            progress(0.1 + 0.6 * min(1.0, index / max(expected, 1)), "faces")
    if scan.sampled == 0:
        raise MediaInputError(
            f"No frames could be decoded from '{spec.statement.name}'.", code="file_corrupt"
        )
    return scan


def _nonrigid_change(previous: NDArray[np.float32], current: NDArray[np.float32]) -> float:
    import cv2

    warp: Any = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    everywhere = np.full(current.shape, 255, dtype=np.uint8)
    # Landmarks leave a pixel or so of misalignment; ECC removes what an affine motion explains
    # (zoom, pan, shake of a photo), so only non-rigid change remains in the residual. Where it
    # does not converge the landmark alignment alone stands.
    with contextlib.suppress(cv2.error):
        _, warp = cv2.findTransformECC(current, previous, warp, cv2.MOTION_AFFINE, criteria, everywhere, 1)
    aligned = cv2.warpAffine(
        previous,
        warp,
        _CROP_SIZE,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    residual = np.abs(current - aligned)
    contrast = float(current[_FACE].std()) + 1e-6
    # Speech moves the mouth; eye-region change (blinks, codec refreshes, resampling) is the
    # baseline that a photo moved as a whole would show everywhere.
    return float(residual[_MOUTH].mean() - residual[_EYES].mean()) / contrast


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < MIN_LIVENESS_PAIRS:
        return float("nan")
    x, y = a[valid] - a[valid].mean(), b[valid] - b[valid].mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def _liveness(scan: _FaceScan, samples: NDArray[np.float32] | None) -> tuple[float | None, float | None, int]:
    changes = np.full(max(len(scan.crops) - 1, 0), np.nan)
    for index in range(1, len(scan.crops)):
        previous, current = scan.crops[index - 1], scan.crops[index]
        if previous is not None and current is not None:
            changes[index - 1] = _nonrigid_change(previous, current)
    pairs = int(np.isfinite(changes).sum())
    if pairs < MIN_LIVENESS_PAIRS:
        return None, None, pairs
    # Speech pauses leave the mouth still for a while, so the typical moving pair (75th percentile)
    # says more than the median.
    motion = float(np.nanpercentile(changes, 75))
    if samples is None:
        return motion, None, pairs
    offset = int(round(scan.window_start / scan.fps * SAMPLE_RATE))
    energy = speech_energy(samples[offset:], scan.fps, len(scan.crops))
    loudness_change = np.abs(np.diff(energy))
    by_offset = []
    for shift in range(-LIP_SYNC_MAX_OFFSET, LIP_SYNC_MAX_OFFSET + 1):
        if shift >= 0:
            value = _correlation(changes[: len(changes) - shift], loudness_change[shift:])
        else:
            value = _correlation(changes[-shift:], loudness_change[: len(loudness_change) + shift])
        if math.isfinite(value):
            by_offset.append(value)
    return motion, (max(by_offset) if by_offset else None), pairs


def _reference_face(spec: StatementCheckSpec) -> NDArray[np.float64]:
    if spec.face_embeddings:
        embeddings = np.asarray(spec.face_embeddings, dtype=np.float64).reshape(len(spec.face_embeddings), -1)
        if embeddings.shape[1] != 128:
            raise InvalidSpecError(
                "Stored face embeddings must have 128 values each.", code="invalid_template"
            )
    elif spec.enrollment is not None:
        embeddings = enrolled_face_embeddings(spec.enrollment)
    else:
        raise InvalidSpecError(
            "The clinician has no enrolled likeness to compare the statement with; enroll first.",
            code="no_enrollment",
        )
    centre: NDArray[np.float64] = embeddings.mean(axis=0)
    return centre


def _reference_voice(spec: StatementCheckSpec) -> NDArray[np.float64] | None:
    """The enrolled voice, or None when the enrolled material holds no voice to compare with."""
    if spec.voice_embedding:
        return np.asarray(spec.voice_embedding, dtype=np.float64)
    source = spec.voice_sample or spec.enrollment
    if source is None:
        raise InvalidSpecError(
            "The clinician has no enrolled voice sample to compare the statement with; record one first.",
            code="no_voice_enrollment",
        )
    try:
        return speaker_embedding(source)
    except (MediaInputError, EnrollmentError) as error:
        # Enrolled material without a voice (silent footage and no voice sample, or no speech in
        # it) fails the voice check with advice, as a statement without sound does: the statement
        # itself is fine, so the check is not an error.
        if error.code in ("audio_missing", "no_speech"):
            return None
        raise


def _statement_audio(path: Path, max_seconds: float) -> NDArray[np.float32] | None:
    try:
        return read_audio(path)[: int(max_seconds * SAMPLE_RATE)]
    except MediaInputError as error:
        # A missing sound track is a failed check with advice, not a broken upload.
        if error.code == "audio_missing":
            return None
        raise


def check_consent_statement(
    spec: StatementCheckSpec, progress: Progress | None = None
) -> StatementCheckResult:
    """Check that a consent statement shows the enrolled clinician's face and voice, recorded live.

    Raises `MediaInputError` for unreadable input and `InvalidSpecError` when there is nothing
    enrolled to compare with; every other outcome, including a failed check (enrolled material
    without a voice among them), is a result whose `reasons` tell the clinician what to do.
    """
    thresholds = spec.thresholds
    if progress is not None:
        progress(0.0, "references")
    face_centre = _reference_face(spec)
    voice_reference = _reference_voice(spec)
    scan = _scan_statement(spec, face_centre, progress)
    samples = _statement_audio(spec.statement, spec.max_seconds)
    if progress is not None:
        progress(0.75, "voice")

    reasons: list[str] = []
    single_share = scan.single / scan.sampled
    several_share = scan.several / scan.sampled
    face_distance = float(np.median(scan.distances)) if scan.distances else None
    face_passed = False
    if single_share < thresholds.min_single_face_share:
        if several_share >= 1 - thresholds.min_single_face_share:
            reasons.append(
                "More than one face is visible in much of the recording. Record the statement alone, with no "
                "other people, photos or screens showing faces behind you."
            )
        else:
            reasons.append(
                "Your face was not found in most of the recording. Face the camera in good light, with your "
                "whole face in the picture."
            )
    elif face_distance is not None and face_distance > thresholds.max_face_distance:
        reasons.append(
            "The face in the recording does not match your enrolled likeness. The statement must be recorded "
            "by the clinician who enrolled; if that is you, record it in light similar to your enrollment."
        )
    else:
        face_passed = True

    voices = voice_encoder()
    speech = voices.speech(samples) if samples is not None else np.zeros(0, dtype=np.float32)
    speech_seconds = len(speech) / VOICE_SAMPLE_RATE
    voice_similarity: float | None = None
    voice_passed = False
    if voice_reference is None:
        reasons.append(
            "There is no enrolled voice to compare the statement with: no speech was found in the "
            "enrollment footage or voice sample (the footage may have no sound at all). Add a voice "
            "sample in the studio, or ask a clinic admin to verify the statement by hand."
        )
    if samples is None:
        reasons.append(
            "The recording has no sound. Record the statement again with the microphone switched on."
        )
    elif speech_seconds < thresholds.min_speech_seconds:
        reasons.append(
            "No speech was heard in the recording. Read the statement aloud, clearly and close to the microphone."
        )
    elif voice_reference is not None:
        embedding = voices.embed(speech)
        voice_similarity = float(
            embedding @ voice_reference / max(float(np.linalg.norm(voice_reference)), 1e-12)
        )
        if voice_similarity < thresholds.min_voice_similarity:
            reasons.append(
                "The voice in the recording does not match your enrolled voice sample. Read the statement "
                "yourself, in a quiet room, without music or other speakers."
            )
        else:
            voice_passed = True
    if progress is not None:
        progress(0.85, "liveness")

    has_speech = samples is not None and speech_seconds >= thresholds.min_speech_seconds
    mouth_motion, lip_sync, pairs = _liveness(scan, samples if has_speech else None)
    liveness_passed = False
    if mouth_motion is None:
        reasons.append(
            "Your face was not visible long enough to see you speak. Keep your face in the picture for the "
            "whole statement."
        )
    elif mouth_motion < thresholds.min_mouth_motion:
        reasons.append(
            "The recording does not show a live, speaking face (it looks like a photo or a still picture). "
            "Record yourself live with the camera, reading the statement aloud."
        )
    elif has_speech and (lip_sync is None or lip_sync < thresholds.min_lip_sync):
        reasons.append(
            "Your lip movements do not follow the speech in the recording. Record picture and sound together, "
            "live, in one take."
        )
    else:
        # Without speech there is no lip-sync to confirm; the voice check already says why.
        liveness_passed = has_speech
    if progress is not None:
        progress(1.0, "done")
    return StatementCheckResult(
        face_distance=face_distance,
        single_face_share=single_share,
        several_faces_share=several_share,
        voice_similarity=voice_similarity,
        speech_seconds=speech_seconds,
        mouth_motion=mouth_motion,
        lip_sync=lip_sync,
        face_passed=face_passed,
        voice_passed=voice_passed,
        liveness_passed=liveness_passed,
        reasons=tuple(reasons),
        thresholds=thresholds,
        sampled_frames=scan.sampled,
        liveness_pairs=pairs,
    )


def _as_json(result: StatementCheckResult) -> dict[str, Any]:
    data = asdict(result)
    data["passed"] = result.passed
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the result as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m avatars.engine.statement", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("statement", type=Path, help="the recorded consent statement video")
    parser.add_argument("--enrollment", type=Path, required=True, help="enrollment footage (face reference)")
    parser.add_argument("--voice", type=Path, help="voice sample (default: the enrollment footage's sound)")
    arguments = parser.parse_args(argv)
    try:
        result = check_consent_statement(
            StatementCheckSpec(
                statement=arguments.statement, enrollment=arguments.enrollment, voice_sample=arguments.voice
            )
        )
    except EngineError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    print(json.dumps(_as_json(result), indent=2))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
