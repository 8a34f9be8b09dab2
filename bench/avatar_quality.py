"""Quality measures for talking-head video: lip-sync, audio-video offset, identity, stability.

Measured with dlib's HOG face detector and its 68-point landmark model, which the renderer does not
use (the renderer draws or warps from its own geometry), so a render cannot grade itself. The
68-point model's training data excludes commercial use: it is used here for internal measurement
only and no product feature depends on it (SPEC §6).

Lip-sync is the correlation between the frame-to-frame *change* of mouth opening and the
frame-to-frame change of speech energy. The plain correlation of opening with energy hardly tells
a video's own audio from another clip's (both follow the slow rhythm of speech), while the change-
based one does; the control against other speech shows that margin for every measured video.

Command line::

    python bench/avatar_quality.py VIDEO [--audio NARRATION] [--control SPEECH ...] [--reference ENROLLMENT]
    python bench/avatar_quality.py --set CLIP [CLIP ...]     # reference levels of real videos
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Run as a script (`python bench/avatar_quality.py`) or imported by the tests and bench/avatar_render.py.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from avatars.engine.errors import EngineError, MediaInputError  # noqa: E402
from avatars.engine.media import iter_video_frames, probe_video, read_audio  # noqa: E402
from avatars.engine.speech import SAMPLE_RATE, speech_energy  # noqa: E402

MAX_OFFSET_FRAMES = 5
#: Landmark detection runs on frames scaled to this height: faces stay well above dlib's 80 px
#: minimum for a talking-head shot, and detection is ~10x cheaper than at 720p.
DETECTION_HEIGHT = 360
_INNER_TOP = [61, 62, 63]
_INNER_BOTTOM = [67, 66, 65]
_OUTER_TOP = [50, 51, 52]
_OUTER_BOTTOM = [58, 57, 56]


class _Dlib:
    """dlib detector, 68-point landmarks and 128-d face embeddings, loaded once."""

    def __init__(self) -> None:
        try:
            import dlib

            with warnings.catch_warnings():
                # face_recognition_models still imports pkg_resources, deprecated in setuptools.
                warnings.simplefilter("ignore")
                import face_recognition_models as models
        except ImportError as exc:
            raise EngineError(
                "Quality measurement needs the dlib-bin and face-recognition-models packages.",
                code="quality_unavailable",
            ) from exc
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(models.pose_predictor_model_location())
        self.encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self.rectangle = dlib.rectangle


_models: _Dlib | None = None


def _dlib() -> _Dlib:
    global _models
    if _models is None:
        _models = _Dlib()
    return _models


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame 68-point landmarks (NaN where no face was found) and the video's frame rate."""

    landmarks: NDArray[np.float64]
    fps: float
    embeddings: NDArray[np.float64]

    @property
    def openings(self) -> NDArray[np.float64]:
        """Mouth opening per frame: inner plus outer lip gap over the outer eye-corner distance.

        Both gaps together are steadier than either alone (the inner one collapses to zero while
        the lips touch; the outer one also moves with lip rounding).
        """
        points = self.landmarks
        inner = np.linalg.norm(points[:, _INNER_TOP] - points[:, _INNER_BOTTOM], axis=2).mean(axis=1)
        outer = np.linalg.norm(points[:, _OUTER_TOP] - points[:, _OUTER_BOTTOM], axis=2).mean(axis=1)
        eyes = np.linalg.norm(points[:, 36] - points[:, 45], axis=1)
        result: NDArray[np.float64] = (inner + outer) / eyes
        return result


def track_face(path: Path, *, max_frames: int | None = None, embed_every: int = 0) -> FaceTrack:
    """Detect the largest face and its landmarks in every frame of a video.

    With `embed_every` > 0, a 128-d face embedding is also computed every that many frames.
    """
    import cv2

    models = _dlib()
    info = probe_video(path)
    rows: list[NDArray[np.float64]] = []
    embeddings: list[NDArray[np.float64]] = []
    for index, frame in enumerate(iter_video_frames(path)):
        if max_frames is not None and index >= max_frames:
            break
        scale = min(1.0, DETECTION_HEIGHT / frame.shape[0])
        small = (
            cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        )
        faces = models.detector(small, 0) or models.detector(small, 1)
        if not faces:
            rows.append(np.full((68, 2), np.nan))
            continue
        face = max(faces, key=lambda f: f.width() * f.height())
        box = models.rectangle(
            int(face.left() / scale),
            int(face.top() / scale),
            int(face.right() / scale),
            int(face.bottom() / scale),
        )
        shape = models.landmarks(frame, box)
        rows.append(np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64))
        if embed_every and index % embed_every == 0:
            embeddings.append(
                np.array(models.encoder.compute_face_descriptor(frame, shape), dtype=np.float64)
            )
    if not rows:
        raise MediaInputError(f"No frames could be read from '{path.name}'.", code="file_corrupt")
    return FaceTrack(np.stack(rows), info.fps, np.array(embeddings).reshape(-1, 128))


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < 8:
        return float("nan")
    x, y = a[valid] - a[valid].mean(), b[valid] - b[valid].mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def shifted_correlation(openings: NDArray[np.float64], energy: NDArray[np.float64], offset: int) -> float:
    """Correlation of Δopening at frame t with Δenergy at frame t + offset."""
    d_open, d_energy = np.diff(openings), np.diff(energy)
    length = min(len(d_open), len(d_energy))
    d_open, d_energy = d_open[:length], d_energy[:length]
    if offset >= 0:
        return _correlation(d_open[: length - offset], d_energy[offset:])
    return _correlation(d_open[-offset:], d_energy[: length + offset])


@dataclass(frozen=True)
class LipSync:
    """Lip-sync of one video against one audio track.

    `offset_frames` > 0 means the audio is best matched that many frames after the picture.
    """

    correlation: float
    best_offset_frames: int
    best_correlation: float
    level_correlation: float
    by_offset: dict[int, float] = field(default_factory=dict)




def lip_sync(
    openings: NDArray[np.float64], energy: NDArray[np.float64], *, max_offset: int = MAX_OFFSET_FRAMES
) -> LipSync:
    """Change-based lip-sync correlation, its best offset within ±`max_offset` frames, and the level one."""
    by_offset = {k: shifted_correlation(openings, energy, k) for k in range(-max_offset, max_offset + 1)}
    finite = {k: v for k, v in by_offset.items() if np.isfinite(v)}
    best = max(finite, key=lambda k: finite[k]) if finite else 0
    length = min(len(openings), len(energy))
    return LipSync(
        correlation=by_offset[0],
        best_offset_frames=best,
        best_correlation=finite.get(best, float("nan")),
        level_correlation=_correlation(openings[:length], energy[:length]),
        by_offset=by_offset,
    )


def landmark_jitter(landmarks: NDArray[np.float64]) -> float:
    """Median frame-to-frame landmark jitter, as a share of the eye-corner distance.

    Jitter is each point's distance from the average of its neighbours in time (what smooth
    motion would put there), so slow head motion does not count, only trembling.
    """
    if len(landmarks) < 3:
        return float("nan")
    expected = (landmarks[:-2] + landmarks[2:]) / 2
    residual = np.linalg.norm(landmarks[1:-1] - expected, axis=2).mean(axis=1)
    eyes = np.linalg.norm(landmarks[1:-1, 36] - landmarks[1:-1, 45], axis=1)
    values = residual / eyes
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def identity_distance(track: FaceTrack, reference: FaceTrack) -> float:
    """Median distance of the video's face embeddings to the mean reference embedding (dlib scale)."""
    if not len(track.embeddings) or not len(reference.embeddings):
        return float("nan")
    centre = reference.embeddings.mean(axis=0)
    return float(np.median(np.linalg.norm(track.embeddings - centre, axis=1)))


@dataclass(frozen=True)
class VideoQuality:
    """All measures of one video; `controls` are correlations against other speech at the best offset."""

    video: str
    frames: int
    face_found_share: float
    lip_sync: LipSync
    controls: dict[str, float]
    beats_controls: int
    jitter: float
    identity: float | None


def measure(
    video: Path,
    *,
    audio: Path | None = None,
    controls: Sequence[Path] = (),
    reference: Path | None = None,
    max_frames: int | None = None,
    segment: tuple[float, float] | None = None,
) -> VideoQuality:
    """Measure one video against its own (or the given) audio and against other speech.

    With `segment` (start, end in seconds) only that part of the video is measured, and `audio`
    and the controls are taken to start at `start` (how a render's narration sits between its
    spoken disclaimers).
    """
    embed_every = 5 if reference is not None else 0
    track = track_face(video, max_frames=max_frames, embed_every=embed_every)
    openings = track.openings
    if segment is not None:
        first, last = int(round(segment[0] * track.fps)), int(round(segment[1] * track.fps))
        openings = openings[first:last]
    count = len(openings)
    if audio is not None:
        own_samples = read_audio(audio)
    else:
        # The video's own sound, from the start of the measured span.
        own_samples = read_audio(video)[int(round((segment[0] if segment else 0.0) * SAMPLE_RATE)) :]
    own = speech_energy(own_samples, track.fps, count)
    sync = lip_sync(openings, own)
    control_scores: dict[str, float] = {}
    for other in controls:
        # Compared at the video's own best offset, so the control gets the same alignment.
        other_energy = speech_energy(read_audio(other), track.fps, count)
        control_scores[other.name] = shifted_correlation(openings, other_energy, sync.best_offset_frames)
    identity = None
    if reference is not None:
        identity = identity_distance(track, track_face(reference, embed_every=5))
    return VideoQuality(
        video=video.name,
        frames=count,
        face_found_share=float(np.isfinite(openings).mean()),
        lip_sync=sync,
        controls=control_scores,
        beats_controls=sum(1 for v in control_scores.values() if not sync.best_correlation <= v),
        jitter=landmark_jitter(track.landmarks),
        identity=identity,
    )


def reference_levels(clips: Sequence[Path]) -> dict[str, Any]:
    """Measure real clips, each against its own audio and every other clip's audio as controls."""
    results = [measure(clip, controls=[c for c in clips if c != clip]) for clip in clips]
    own = [r.lip_sync.best_correlation for r in results]
    at_zero = [r.lip_sync.correlation for r in results]
    others = [v for r in results for v in r.controls.values()]
    return {
        "clips": len(results),
        "median_lip_sync_best": statistics.median(own),
        "median_lip_sync_at_zero": statistics.median(at_zero),
        "median_control": statistics.median(others) if others else None,
        "median_level_correlation": statistics.median(r.lip_sync.level_correlation for r in results),
        "offsets": [r.lip_sync.best_offset_frames for r in results],
        "median_jitter": statistics.median(r.jitter for r in results),
        "per_clip": [_summary(r) for r in results],
    }


def _summary(result: VideoQuality) -> dict[str, Any]:
    data = asdict(result)
    data["lip_sync"].pop("by_offset")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints JSON."""
    parser = argparse.ArgumentParser(
        prog="bench/avatar_quality.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("video", nargs="?", type=Path, help="video to measure")
    parser.add_argument(
        "--audio", type=Path, help="narration to measure against (default: the video's own sound)"
    )
    parser.add_argument(
        "--control", type=Path, nargs="*", default=[], help="other speech recordings, as controls"
    )
    parser.add_argument("--reference", type=Path, help="enrollment video for the identity distance")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument(
        "--segment", type=float, nargs=2, metavar=("START", "END"), help="measure only this span"
    )
    parser.add_argument(
        "--set", type=Path, nargs="*", help="real clips: print their reference levels instead"
    )
    arguments = parser.parse_args(argv)
    try:
        if arguments.set:
            print(json.dumps(reference_levels(arguments.set), indent=2))
            return 0
        if arguments.video is None:
            parser.error("give a video, or --set with real clips")
        result = measure(
            arguments.video,
            audio=arguments.audio,
            controls=arguments.control,
            reference=arguments.reference,
            max_frames=arguments.max_frames,
            segment=tuple(arguments.segment) if arguments.segment else None,
        )
        print(json.dumps(_summary(result), indent=2))
    except EngineError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
