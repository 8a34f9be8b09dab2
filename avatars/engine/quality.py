"""Quality gates on a finished render: lip-sync, identity and temporal stability, read from its pixels.

A render is offered to the clinician for approval only if the output itself passes these checks;
every figure is recorded either way. What is measured, and why this way:

* **Lip-sync**: the correlation, at lag 0, between the frame-to-frame change of mouth opening
  and the frame-to-frame change of speech energy. The level of opening against the level of
  energy hardly tells a video's own sound from another speaker's (both follow the slow rhythm of
  speech); the changes do. The mouth is read by MediaPipe's 468-point face mesh (the BlazeFace
  detector finds the face, the mesh then tracks it), which the footage and stock renderers do not
  use to make their frames (they work from dlib's five points or their own drawing).
* **Identity**: dlib's 128-d face embedding of a few output frames against the enrollment's.
  The enrollment's own variation sets the bar: the distance between the embeddings of its first
  and second halves, plus a margin. A stock presenter depicts no one and skips this.
* **Temporal stability** (seams, a mouth patch that jumps): each frame's face is cut out along
  the mesh's own upright square and reduced to 64x64 grey; the worst mean absolute change
  between consecutive faces must stay within `STABILITY_RATIO` times the enrollment footage's
  own worst (a photo or the stock presenter, which have no footage, get a fixed limit measured
  on real talking-head clips; see BENCHMARKS.md). A slow cross-fade spreads its change over
  several frames and can pass this measure: it catches cuts and jumps, not every ghost.

Thresholds come from measurement on real talking-head clips (``bench/quality_gates.py``), never
from the renders they judge. Only the first `MAX_SECONDS` of a video are read, so the gate costs
the same for a 10-minute render as for a 1-minute one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avatars.engine.errors import EngineError

#: Seconds of a video the gate reads (from its start; the opening disclaimer is spoken too).
MAX_SECONDS = 60.0
#: Lip-sync at lag 0 a render must reach: 0.8 x the median (0.451) of the 11 real GRID clips as
#: measured by `bench/quality_gates.py` with this module (BENCHMARKS.md, "Quality gates").
LIP_SYNC_MIN = 0.8 * 0.451
#: Added to the enrollment's own half-vs-half embedding distance (issue 13's bar).
IDENTITY_MARGIN = 0.05
#: dlib's own same-person threshold, for a photo enrollment (no halves to compare).
IDENTITY_PHOTO_MAX = 0.6
#: A render's worst frame-to-frame face change may be this many times the enrollment footage's
#: own worst: within one real clip, the worst change of one half was up to 1.67 times the other
#: half's (14 real clips, BENCHMARKS.md), so a tighter bar would hold back renders as steady as
#: the footage itself.
STABILITY_RATIO = 1.7
#: The worst frame-to-frame face change allowed where there is no enrollment footage to compare
#: with (stock presenter, portrait photo): the largest worst change among the 14 real clips (17.8).
STABILITY_ABSOLUTE_MAX = 17.8
#: Faces must be found on at least this share of the frames read, or nothing else can be judged.
MIN_FACE_SHARE = 0.8
#: Output frames embedded for identity (spread over the frames read; ~0.1 s each).
IDENTITY_SAMPLES = 6
FACE_SIDE = 64


@dataclass
class FaceTrack:
    """What the mesh saw in a video: per-frame mouth opening (NaN without a face) and the
    frame-to-frame change of the face region (NaN where either frame has no face)."""

    fps: float
    openings: NDArray[np.float64]
    changes: NDArray[np.float64]
    embeddings: list[NDArray[np.float64]] = field(default_factory=list)

    @property
    def face_share(self) -> float:
        """Share of frames with a face."""
        return float(np.mean(np.isfinite(self.openings))) if len(self.openings) else 0.0

    @property
    def worst_change(self) -> float:
        """The largest frame-to-frame change of the face region (0..255 grey levels)."""
        finite = self.changes[np.isfinite(self.changes)]
        return float(finite.max()) if finite.size else math.nan


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < 8:
        return math.nan
    x, y = a[valid] - a[valid].mean(), b[valid] - b[valid].mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else math.nan


def change_correlation(openings: NDArray[np.float64], energy: NDArray[np.float64], lag: int = 0) -> float:
    """Correlation of the change of opening at frame t with the change of energy at t + `lag`."""
    d_open, d_energy = np.diff(openings), np.diff(energy)
    length = min(len(d_open), len(d_energy))
    d_open, d_energy = d_open[:length], d_energy[:length]
    if lag >= 0:
        return _correlation(d_open[: length - lag], d_energy[lag:])
    return _correlation(d_open[-lag:], d_energy[: length + lag])


def _face_crop(rgb: NDArray[np.uint8], points: NDArray[np.float64]) -> NDArray[np.float32]:
    import cv2

    from avatars.engine.anonymize.mesh import ROI_SCALE, Roi, roi_from_points

    # The face's own upright square (the mesh's next crop without its margin of background, which
    # would only dilute a change of the face), at FACE_SIDE pixels.
    around = roi_from_points(points)
    to_frame = Roi(around.center, around.size / ROI_SCALE, around.angle).to_frame(FACE_SIDE)
    face = cv2.warpAffine(
        rgb, to_frame, (FACE_SIDE, FACE_SIDE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    return np.asarray(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY), dtype=np.float32)


def _mesh_points(rgb: NDArray[np.uint8], previous: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
    """The largest face's 468 mesh points, tracked from the previous frame's or freshly detected."""
    import cv2

    from avatars.engine.anonymize.detect import FaceDetector
    from avatars.engine.anonymize.mesh import (
        PRESENCE_THRESHOLD,
        roi_from_detection,
        roi_from_points,
        run_mesh,
    )

    half = np.asarray(
        cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    if previous is not None:
        tracked = run_mesh(rgb, roi_from_points(previous), half=half)
        if tracked.presence >= PRESENCE_THRESHOLD:
            return tracked.points
    detections = FaceDetector().detect(half)
    if not detections:
        return None
    largest = max(detections, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    found = run_mesh(rgb, roi_from_detection(largest), half=half)
    return found.points if found.presence >= PRESENCE_THRESHOLD else None


def _embedding(rgb: NDArray[np.uint8]) -> NDArray[np.float64] | None:
    from core.media.faces import detect_faces
    from core.media.loaders.dlib_faces import face_encoder

    faces = detect_faces(rgb, thorough=True)
    return face_encoder().embed(np.ascontiguousarray(rgb), faces[0]) if faces else None


def track_frames(
    frames: Iterable[NDArray[np.uint8]], *, fps: float, embed_at: Iterable[int] = ()
) -> FaceTrack:
    """Run the mesh over frames (in order); embed the faces of the frames numbered in `embed_at`."""
    from avatars.engine.anonymize.mesh import CHIN, FOREHEAD, LIP_INNER_DOWN, LIP_INNER_UP

    wanted = set(embed_at)
    openings: list[float] = []
    changes: list[float] = []
    embeddings: list[NDArray[np.float64]] = []
    points: NDArray[np.float64] | None = None
    previous_face: NDArray[np.float32] | None = None
    for index, rgb in enumerate(frames):
        points = _mesh_points(rgb, points)
        if points is None:
            openings.append(math.nan)
            changes.append(math.nan)
            previous_face = None
        else:
            height = float(np.linalg.norm(points[CHIN, :2] - points[FOREHEAD, :2]))
            gap = float(np.linalg.norm(points[LIP_INNER_DOWN, :2] - points[LIP_INNER_UP, :2]))
            openings.append(gap / max(height, 1e-6))
            face = _face_crop(rgb, points)
            changes.append(
                float(np.mean(np.abs(face - previous_face))) if previous_face is not None else math.nan
            )
            previous_face = face
        if index in wanted:
            embedding = _embedding(rgb)
            if embedding is not None:
                embeddings.append(embedding)
    return FaceTrack(fps, np.array(openings), np.array(changes), embeddings)


def _frames(path: Path, limit: int) -> Iterator[NDArray[np.uint8]]:
    from avatars.engine.media import iter_video_frames

    for index, rgb in enumerate(iter_video_frames(path)):
        if index >= limit:
            return
        yield rgb


def track_video(path: Path, *, max_seconds: float = MAX_SECONDS, embeddings: int = 0) -> FaceTrack:
    """Track the face over the first `max_seconds` of a video, embedding `embeddings` frames
    spread evenly over them."""
    from avatars.engine.media import probe_video

    info = probe_video(path)
    fps = float(info.fps) or 25.0
    limit = int(max_seconds * fps)
    count = min(limit, info.frame_count) if info.frame_count else limit
    at = {int((i + 0.5) * count / embeddings) for i in range(embeddings)} if embeddings else set()
    return track_frames(_frames(path, limit), fps=fps, embed_at=at)


@dataclass(frozen=True)
class EnrollmentReference:
    """What a render of this enrollment is compared with: its face embeddings (first and second
    half of the footage, or the photo's) and its own worst frame-to-frame face change."""

    first_half: tuple[tuple[float, ...], ...]
    second_half: tuple[tuple[float, ...], ...]
    worst_change: float | None  # None for a photo

    @property
    def embedding(self) -> NDArray[np.float64]:
        """The mean embedding of every sample."""
        return np.asarray(np.mean(np.array(self.first_half + self.second_half), axis=0), dtype=np.float64)

    @property
    def own_distance(self) -> float | None:
        """Distance between the mean embeddings of the two halves (None for a photo)."""
        if not self.first_half or not self.second_half:
            return None
        return float(np.linalg.norm(np.mean(self.first_half, axis=0) - np.mean(self.second_half, axis=0)))


def enrollment_reference_from_video(path: Path, *, max_seconds: float = MAX_SECONDS) -> EnrollmentReference:
    """The reference of an enrollment video (its first `max_seconds`)."""
    track = track_video(path, max_seconds=max_seconds, embeddings=2 * IDENTITY_SAMPLES)
    if len(track.embeddings) < 2:
        raise EngineError(
            "The enrollment footage shows too few recognisable faces to compare a render with.",
            code="quality_reference_missing",
        )
    middle = len(track.embeddings) // 2
    return EnrollmentReference(
        first_half=tuple(tuple(e.tolist()) for e in track.embeddings[:middle]),
        second_half=tuple(tuple(e.tolist()) for e in track.embeddings[middle:]),
        worst_change=track.worst_change,
    )


def enrollment_reference_from_photo(path: Path) -> EnrollmentReference:
    """The reference of a portrait photo: its one embedding, no footage to compare motion with."""
    from avatars.engine.media import read_image

    embedding = _embedding(read_image(path))
    if embedding is None:
        raise EngineError(
            "No face could be recognised in the enrollment photo to compare a render with.",
            code="quality_reference_missing",
        )
    return EnrollmentReference(first_half=(tuple(embedding.tolist()),), second_half=(), worst_change=None)


@dataclass(frozen=True)
class QualityReport:
    """The figures measured on a render, the limits they were held to, and why it failed (if it did)."""

    frames: int
    face_share: float
    lip_sync: float | None
    lip_sync_min: float
    identity_distance: float | None
    identity_max: float | None
    worst_change: float | None
    change_max: float
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the render may be offered for approval."""
        return not self.reasons

    def figures(self) -> dict[str, float | int | None]:
        """The measured figures and limits, rounded, for the ledger."""

        def rounded(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else round(value, 4)

        return {
            "frames": self.frames,
            "face_share": rounded(self.face_share),
            "lip_sync": rounded(self.lip_sync),
            "lip_sync_min": rounded(self.lip_sync_min),
            "identity_distance": rounded(self.identity_distance),
            "identity_max": rounded(self.identity_max),
            "worst_change": rounded(self.worst_change),
            "change_max": rounded(self.change_max),
        }


def assess_render(
    video: Path, *, reference: EnrollmentReference | None, max_seconds: float = MAX_SECONDS
) -> QualityReport:
    """Measure a rendered video against its enrollment (`None` for the stock presenter, which
    depicts no one and skips identity) and say, in words for the clinician, why it falls short."""
    from avatars.engine.media import read_audio
    from avatars.engine.speech import SAMPLE_RATE, speech_energy

    track = track_video(video, max_seconds=max_seconds, embeddings=IDENTITY_SAMPLES if reference else 0)
    frames = len(track.openings)
    samples = read_audio(video)[: int(frames / track.fps * SAMPLE_RATE)]
    energy = speech_energy(samples, track.fps, frames)
    reasons: list[str] = []
    lip_sync: float | None = None
    identity: float | None = None
    identity_max: float | None = None
    worst: float | None = None
    change_max = STABILITY_ABSOLUTE_MAX
    if reference is not None and reference.worst_change is not None:
        change_max = STABILITY_RATIO * reference.worst_change
    if track.face_share < MIN_FACE_SHARE:
        reasons.append(
            f"The presenter's face could be followed in only {track.face_share:.0%} of the video "
            f"(at least {MIN_FACE_SHARE:.0%} is needed), so the mouth and face could not be checked."
        )
    else:
        lip_sync = change_correlation(track.openings, energy)
        if not math.isfinite(lip_sync) or lip_sync < LIP_SYNC_MIN:
            reasons.append(
                f"The mouth does not follow the speech closely enough (lip-sync {lip_sync:.2f}, "
                f"at least {LIP_SYNC_MIN:.2f} is needed)."
            )
        worst = track.worst_change
        if math.isfinite(worst) and worst > change_max:
            reasons.append(
                f"The face jumps or flickers between frames far more than in the enrollment footage "
                f"(worst change {worst:.1f}, at most {change_max:.1f}): a visible seam or jump."
                if reference is not None and reference.worst_change is not None
                else f"The face jumps or flickers between frames (worst change {worst:.1f}, "
                f"at most {change_max:.1f} is expected)."
            )
    if reference is not None:
        own = reference.own_distance
        identity_max = own + IDENTITY_MARGIN if own is not None else IDENTITY_PHOTO_MAX
        if not track.embeddings:
            reasons.append("No frame of the video shows a face that can be compared with the enrollment.")
        else:
            identity = float(np.linalg.norm(np.mean(track.embeddings, axis=0) - reference.embedding))
            if identity > identity_max:
                reasons.append(
                    f"The face does not look enough like the enrolled clinician (distance {identity:.2f}, "
                    f"at most {identity_max:.2f})."
                )
    return QualityReport(
        frames=frames,
        face_share=track.face_share,
        lip_sync=lip_sync,
        lip_sync_min=LIP_SYNC_MIN,
        identity_distance=identity,
        identity_max=identity_max,
        worst_change=worst,
        change_max=change_max,
        reasons=tuple(reasons),
    )
