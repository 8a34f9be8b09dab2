"""Face tracks through a video: detection, mesh tracking, look-behind, look-ahead and gap filling.

Frames pass through a short buffer (about half a second) before they are replaced and written,
so every decision about a frame can use what is seen up to half a second later:

* each track follows its face with the mesh (the crop comes from the previous frame's points,
  moved by the face's velocity) and the detectors re-anchor it or start new tracks;
* a new track is followed *backwards* through the frames still in the buffer, so the frames just
  before its first detection are covered too (a face that was turning towards the camera, or
  entering the picture), plus a margin of a few more frames;
* a track that loses its face keeps covering where it was heading for `coast` frames (look-ahead);
  if the face is found again within that time, the missing frames are interpolated.

The buffer has a fixed length, so memory does not depend on the video's length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.detect import Detection, FaceDetector, box_iou, tile_boxes
from avatars.engine.anonymize.mesh import (
    PRESENCE_THRESHOLD,
    Expression,
    expression_from_detection,
    expression_from_points,
    roi_from_detection,
    roi_from_points,
    run_mesh,
)
from avatars.engine.anonymize.replace import Region, region_from_detection, region_from_points

#: A new track needs either the mesh to confirm a face or a detection at least this sure.
CONFIRM_SCORE = 0.7
#: A mesh crop may not grow or shrink faster than this from one frame to the next (drift guard).
MAX_SIZE_CHANGE = 1.45
#: Growth per frame of a region while its track coasts without a sighting, and its cap.
COAST_GROWTH, COAST_MAX_GROWTH = 0.03, 1.5


class Observation(NamedTuple):
    """A track's state in one frame. `kind`: mesh | detector | behind | filled."""

    region: Region
    expression: Expression | None
    box: tuple[float, float, float, float]
    kind: str


@dataclass
class Track:
    """One face followed through the video."""

    id: int
    first_frame: int
    last_seen: int
    points: NDArray[np.float64] | None
    velocity: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))
    observations: dict[int, Observation] = field(default_factory=dict)
    ended: bool = False
    #: Identity state, owned by the pipeline: distances of sampled frames to the kept faces.
    keep: bool = False
    keep_distances: list[float] = field(default_factory=list)
    originals: list[NDArray[np.float64]] = field(default_factory=list)
    #: Index into `synthetic.LOOKS` of the drawn face (synthetic mode).
    look: int | None = None
    #: Times the drawn look was changed because it came too near the person (synthetic mode).
    look_changes: int = 0
    next_sample: int = 0
    sample_attempts: int = 0
    output_distances: list[float] = field(default_factory=list)
    output_checks: int = 0
    seen_frames: int = 0
    filled_frames: int = 0
    kept_frames: int = 0
    replaced_frames: int = 0
    rendered_last: int = -1

    def box_at(self, index: int) -> tuple[float, float, float, float] | None:
        observation = self.observations.get(index)
        return observation.box if observation else None


@dataclass(frozen=True)
class BufferedFrame:
    """A decoded frame waiting in the buffer, with its half-size copy and its time (s).

    `detections`: the `DetectionSchedule`'s result for this frame when it was already run (the
    pipeline runs it on the decoding thread, ahead of the tracker); None: the tracker runs it.
    """

    index: int
    rgb: NDArray[np.uint8]
    half: NDArray[np.uint8]
    time: float
    detections: list[Detection] | None = None


def half_size(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The frame at half width and height (cheap: OpenCV's integer-ratio area path)."""
    return np.asarray(cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA))


def _points_box(points: NDArray[np.float64]) -> tuple[float, float, float, float]:
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def _mesh_observation(points: NDArray[np.float64], kind: str) -> Observation:
    return Observation(region_from_points(points), expression_from_points(points), _points_box(points), kind)


def _detection_observation(detection: Detection) -> Observation:
    return Observation(
        region_from_detection(detection), expression_from_detection(detection), detection.box, "detector"
    )


def _box_size(box: tuple[float, float, float, float]) -> float:
    return max(box[2] - box[0], box[3] - box[1])


class DetectionSchedule:
    """The detector passes each frame gets, in turn; call it once per frame, in order.

    It needs nothing from the tracks, so the pipeline runs it on the decoding thread, ahead of
    the tracker (the results are the same as running it in the tracker: the turn of the tiles
    depends only on the frame's index).
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.detector = FaceDetector()
        self._tiles: list[tuple[int, int, int, int]] | None = None
        self._tiles_per_turn = 1
        self._tile_turn = 0

    def __call__(self, index: int, half: NDArray[np.uint8]) -> list[Detection]:
        if self._tiles is None:
            self._tiles = tile_boxes(half.shape[1], half.shape[0])
            self._tiles_per_turn = min(4, max(1, -(-len(self._tiles) // 4)))
        scale = self.width / half.shape[1]
        # The whole frame on even frames, one tile in turn on odd ones: two model runs a frame.
        # A face the schedule finds a few frames late is still covered from its first frame by
        # the look-behind.
        if index % 2 == 0 or not self._tiles:
            return self.detector.detect(half, scale=scale)
        # Every tile is searched within eight frames (a third of the look-behind buffer at
        # 25 fps), so bigger pictures search more tiles per frame.
        detections: list[Detection] = []
        for _ in range(self._tiles_per_turn):
            tile = self._tiles[self._tile_turn % len(self._tiles)]
            detections += self.detector.detect_tile(half, tile, scale=scale)
            self._tile_turn += 1
        return detections


class Tracker:
    """Keeps the face tracks of one video; call `update()` once per decoded frame, in order."""

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        buffer: deque[BufferedFrame],
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.buffer = buffer
        self.schedule = DetectionSchedule(width)
        self.tracks: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 0
        #: Look-ahead: how long a lost track keeps covering where its face was heading.
        self.coast = max(3, round(0.5 * fps))
        #: Margin before the first and after the last frame a face was actually seen.
        self.margin = max(2, round(0.2 * fps))

    def update(self, frame: BufferedFrame) -> None:
        """Track every face into `frame` (already appended to the buffer)."""
        index = frame.index
        for track in self.tracks:
            if not track.ended:
                self._follow(track, frame)
        detections = frame.detections
        if detections is None:
            detections = self.schedule(index, frame.half)
        self._associate(detections, frame)
        self._dedupe(index)
        for track in self.tracks:
            if not track.ended and index - track.last_seen > self.coast:
                track.ended = True

    def _follow(self, track: Track, frame: BufferedFrame) -> None:
        index = frame.index
        if track.points is None or track.last_seen != index - 1:
            return
        roi = roi_from_points(track.points)
        predicted = replace(
            roi, center=(roi.center[0] + track.velocity[0], roi.center[1] + track.velocity[1])
        )
        mesh = run_mesh(frame.rgb, predicted, half=frame.half)
        if mesh.presence < PRESENCE_THRESHOLD:
            return
        new_roi = roi_from_points(mesh.points)
        if not 1 / MAX_SIZE_CHANGE < new_roi.size / roi.size < MAX_SIZE_CHANGE:
            return
        self._observe(track, index, _mesh_observation(mesh.points, "mesh"), mesh.points)

    def _observe(
        self, track: Track, index: int, observation: Observation, points: NDArray[np.float64] | None
    ) -> None:
        previous = track.observations.get(track.last_seen)
        if previous is not None and index > track.last_seen:
            step = (observation.region.core.mean(axis=0) - previous.region.core.mean(axis=0)) / (
                index - track.last_seen
            )
            track.velocity = 0.6 * step + 0.4 * track.velocity
        track.observations[index] = observation
        track.points = points
        track.last_seen = max(track.last_seen, index)

    def _associate(self, detections: list[Detection], frame: BufferedFrame) -> None:
        index = frame.index
        for detection in sorted(detections, key=lambda d: -d.score):
            # Tracks started by a stronger detection of this same frame count too, so two
            # detections of one face (from the two models or a tile) never make two tracks.
            live = [t for t in self.tracks if not t.ended]
            best, best_score = None, 0.0
            for track in live:
                box = track.box_at(index) or self._predicted_box(track, index)
                if box is None:
                    continue
                overlap = box_iou(box, detection.box)
                centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
                near = float(np.linalg.norm(centre - detection.center)) < 0.6 * _box_size(box)
                score = overlap + (0.3 if near else 0.0)
                if score > best_score and (overlap > 0.15 or near):
                    best, best_score = track, score
            if best is None:
                self._start(detection, frame)
            elif index not in best.observations:
                self._reacquire(best, detection, frame)

    def _predicted_box(self, track: Track, index: int) -> tuple[float, float, float, float] | None:
        last = track.observations.get(track.last_seen)
        if last is None:
            return None
        shift = track.velocity * (index - track.last_seen)
        x0, y0, x1, y1 = last.box
        return (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1])

    def _mesh_from_detection(self, detection: Detection, frame: BufferedFrame) -> NDArray[np.float64] | None:
        mesh = run_mesh(frame.rgb, roi_from_detection(detection), half=frame.half)
        if mesh.presence < PRESENCE_THRESHOLD:
            return None
        # A second pass from the mesh's own crop sits tighter than the detector's box.
        refined = run_mesh(frame.rgb, roi_from_points(mesh.points), half=frame.half)
        return refined.points if refined.presence >= PRESENCE_THRESHOLD else mesh.points

    def _reacquire(self, track: Track, detection: Detection, frame: BufferedFrame) -> None:
        points = self._mesh_from_detection(detection, frame)
        if points is not None:
            self._observe(track, frame.index, _mesh_observation(points, "mesh"), points)
        else:
            self._observe(track, frame.index, _detection_observation(detection), None)

    def _start(self, detection: Detection, frame: BufferedFrame) -> None:
        points = self._mesh_from_detection(detection, frame)
        if points is None and detection.score < CONFIRM_SCORE:
            return
        track = Track(id=self._next_id, first_frame=frame.index, last_seen=frame.index, points=None)
        self._next_id += 1
        if points is not None:
            self._observe(track, frame.index, _mesh_observation(points, "mesh"), points)
        else:
            self._observe(track, frame.index, _detection_observation(detection), None)
        self.tracks.append(track)
        self._look_behind(track, frame.index)

    def _look_behind(self, track: Track, index: int) -> None:
        """Follow a new face backwards through the buffered frames, then add a margin."""
        earlier = [f for f in self.buffer if f.index < index]
        points = track.points
        first = index
        for frame in reversed(earlier):
            if points is None:
                break
            mesh = run_mesh(frame.rgb, roi_from_points(points), half=frame.half)
            if mesh.presence < PRESENCE_THRESHOLD:
                break
            track.observations[frame.index] = _mesh_observation(mesh.points, "behind")
            points, first = mesh.points, frame.index
        track.first_frame = first

    def _dedupe(self, index: int) -> None:
        """Two tracks on one face (a mesh that drifted onto a neighbour): the younger one stops."""
        live = [t for t in self.tracks if not t.ended and index in t.observations]
        for i, older in enumerate(live):
            for younger in live[i + 1 :]:
                a, b = older.box_at(index), younger.box_at(index)
                if a is not None and b is not None and box_iou(a, b) > 0.5 and not younger.ended:
                    younger.ended = True

    def at(self, track: Track, index: int) -> Observation | None:
        """The track's region in frame `index`: seen, interpolated, look-ahead or look-behind margin."""
        observation = track.observations.get(index)
        if observation is not None:
            return observation
        before = max((f for f in track.observations if f < index), default=None)
        after = min((f for f in track.observations if f > index), default=None)
        if before is not None and after is not None and after - before <= 2 * self.coast:
            return _interpolate(
                track.observations[before], track.observations[after], (index - before) / (after - before)
            )
        if before is not None and index - before <= self.coast + self.margin:
            return _coast(track.observations[before], track.velocity * (index - before), index - before)
        if after is not None and after - index <= self.margin:
            return _coast(track.observations[after], np.zeros(2), after - index)
        return None

    def forget_before(self, index: int) -> None:
        """Drop what frames before `index` needed; retire tracks that can cover nothing any more."""
        horizon = index - 2 * self.coast - 1
        for track in self.tracks:
            for frame_index in [f for f in track.observations if f < horizon]:
                del track.observations[frame_index]
        done = [t for t in self.tracks if t.ended and t.last_seen + self.coast + self.margin < index]
        for track in done:
            self.tracks.remove(track)
            self.finished.append(track)


def _lerp_expression(a: Expression | None, b: Expression | None, t: float) -> Expression | None:
    if a is None or b is None:
        return a if t < 0.5 else b
    rotation = (1 - t) * a.rotation + t * b.rotation
    # Re-orthonormalise the blended rotation (polar decomposition via SVD).
    u, _, vt = np.linalg.svd(rotation)
    return Expression(
        origin=(1 - t) * a.origin + t * b.origin,
        unit=(1 - t) * a.unit + t * b.unit,
        rotation=u @ vt,
        mouth_open=(1 - t) * a.mouth_open + t * b.mouth_open,
        mouth_width=(1 - t) * a.mouth_width + t * b.mouth_width,
        eye_open=(
            (1 - t) * a.eye_open[0] + t * b.eye_open[0],
            (1 - t) * a.eye_open[1] + t * b.eye_open[1],
        ),
        brow_raise=(1 - t) * a.brow_raise + t * b.brow_raise,
    )


def _interpolate(a: Observation, b: Observation, t: float) -> Observation:
    region = Region(
        (1 - t) * a.region.outer + t * b.region.outer, (1 - t) * a.region.core + t * b.region.core
    )
    x0, y0, x1, y1 = ((1 - t) * np.asarray(a.box) + t * np.asarray(b.box)).tolist()
    # A gap is where the face was hardest to see: cover it a little more generously.
    return Observation(
        region.scaled(1.08), _lerp_expression(a.expression, b.expression, t), (x0, y0, x1, y1), "filled"
    )


def _coast(observation: Observation, shift: NDArray[np.float64], frames: int) -> Observation:
    growth = min(COAST_MAX_GROWTH, 1 + COAST_GROWTH * frames)
    region = observation.region.shifted(shift).scaled(growth)
    expression = observation.expression
    if expression is not None:
        origin = expression.origin.copy()
        origin[:2] += shift
        expression = Expression(
            origin, expression.unit, expression.rotation, expression.mouth_open, expression.mouth_width,
            expression.eye_open, expression.brow_raise,
        )  # fmt: skip
    x0, y0, x1, y1 = observation.box
    box = (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1])
    return Observation(region, expression, box, "filled")
