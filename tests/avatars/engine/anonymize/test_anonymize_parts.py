"""The anonymization engine's parts on their own: detector decoding, regions, drawn face, voice."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from anonymize_clips import presenter_frames

from avatars.engine.anonymize import voice
from avatars.engine.anonymize.detect import (
    _LAYOUTS,
    FULL_RANGE,
    SHORT_RANGE,
    FaceDetector,
    _anchors,
    tile_boxes,
)
from avatars.engine.anonymize.mesh import (
    FACE_OVAL,
    Expression,
    expression_from_points,
    roi_from_detection,
    run_mesh,
)
from avatars.engine.anonymize.models import load
from avatars.engine.anonymize.replace import region_from_points
from avatars.engine.anonymize.synthetic import LOOKS, SyntheticFace
from avatars.engine.anonymize.track import half_size
from avatars.engine.speech import resample, synthesize


@pytest.mark.parametrize("name", [SHORT_RANGE, FULL_RANGE])
def test_anchor_grids_match_the_models_outputs(name: str) -> None:
    model = load(name)
    outputs = model.run(np.zeros((model.size, model.size, 3), dtype=np.float32))
    anchors = _anchors(model.size, *_LAYOUTS[name])
    assert {o.shape[1] for o in outputs} == {len(anchors)}
    assert anchors.min() > 0 and anchors.max() < 1


def test_a_drawn_face_is_found_where_it_is_with_its_eyes_in_order() -> None:
    frame = presenter_frames(1, 640, 360)[0]
    [face] = FaceDetector().detect(half_size(frame), scale=2.0)
    x0, y0, x1, y1 = face.box
    # The presenter's face is drawn centred at (320, 155), about 0.2 x 360 px from middle to chin.
    assert abs((x0 + x1) / 2 - 320) < 15 and abs((y0 + y1) / 2 - 160) < 25
    assert 60 < x1 - x0 < 160
    right_eye, left_eye = face.keypoints[0], face.keypoints[1]
    assert right_eye[0] < left_eye[0]  # the person's right eye is on the image's left


def test_the_mesh_follows_the_mouth_opening() -> None:
    from avatars.engine.motion import Pose
    from avatars.engine.stock import StockPresenter

    presenter = StockPresenter(640, 360)
    openings = []
    for mouth in (0.0, 1.0):
        frame = presenter.draw((mouth, 0.5, 0.2), Pose(0, 0, 0, 0)).copy()
        [face] = FaceDetector().detect(half_size(frame), scale=2.0)
        openings.append(expression_from_points(run_mesh(frame, roi_from_detection(face)).points).mouth_open)
    assert openings[1] > openings[0] + 0.3


def test_the_replaced_region_reaches_well_beyond_the_face_outline() -> None:
    frame = presenter_frames(1, 640, 360)[0]
    [face] = FaceDetector().detect(half_size(frame), scale=2.0)
    points = run_mesh(frame, roi_from_detection(face)).points
    region = region_from_points(points)
    outline = points[FACE_OVAL, :2]
    width = np.ptp(outline[:, 0])
    assert region.outer[:, 0].min() < outline[:, 0].min() - 0.1 * width
    assert region.outer[:, 0].max() > outline[:, 0].max() + 0.1 * width
    assert region.outer[:, 1].min() < outline[:, 1].min() - 0.15 * np.ptp(outline[:, 1])


@pytest.mark.parametrize("size", [(640, 360), (360, 640), (400, 400)])
def test_detection_tiles_cover_every_pixel(size: tuple[int, int]) -> None:
    width, height = size
    covered = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in tile_boxes(width, height):
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def _drawn(yaw: float) -> tuple[int, float]:
    """Eyes visible, and how far the skin's centre lies right of the hair's, for a head turn."""
    import cv2

    image = np.full((200, 200, 3), 90, dtype=np.uint8)
    cos, sin = math.cos(yaw), math.sin(yaw)
    rotation = np.array([[cos, 0.0, -sin], [0.0, 1.0, 0.0], [sin, 0.0, cos]])
    look = LOOKS[0]
    palette = look.palette
    expression = Expression(np.array([100.0, 100.0, 0.0]), 50.0, rotation, 0.0, 0.5, (1.0, 1.0), 0.3)
    SyntheticFace().draw(image, (0, 0), expression, look)
    from avatars.engine.stock import EYE_WHITE, PUPIL

    eye = np.zeros(image.shape[:2], dtype=np.uint8)
    for colour in (EYE_WHITE, palette.iris, PUPIL):
        eye |= np.all(image == colour, axis=2)
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(eye, np.ones((3, 3), np.uint8)))
    eyes = int((stats[1:, cv2.CC_STAT_AREA] > 10).sum())
    skin = np.argwhere(np.all(image == palette.skin, axis=2))[:, 1].mean()
    hair = np.argwhere(np.all(image == palette.hair, axis=2))[:, 1].mean()
    return eyes, float(skin - hair)


def test_the_drawn_face_turns_with_the_head() -> None:
    eyes, offset = _drawn(0.0)
    assert eyes == 2 and abs(offset) < 2
    # The face swings to one side for one turn and mirrors it for the other; the far eye goes
    # out of sight near profile.
    left, right = _drawn(0.6)[1], _drawn(-0.6)[1]
    assert abs(left) > 4 and abs(left + right) < 1.5
    assert _drawn(1.2)[0] == 1 and _drawn(-1.2)[0] == 1


def _speech() -> np.ndarray:
    track = synthesize("Please describe where the pain started and how long it lasts.")
    return resample(track.samples, track.sample_rate, voice.RATE)


def test_the_voice_change_with_no_shift_gives_the_input_back() -> None:
    samples = _speech()
    out = np.zeros_like(samples)
    voice.mcadams_file(samples, out, alpha=1.0, warp=1.0)
    # Only rounding in the pole-polynomial round trip remains: 60 dB below the speech's peak.
    assert np.abs(out - samples).max() < 1e-3 * np.abs(samples).max()


def test_the_voice_change_moves_the_third_formant_to_the_drawn_target() -> None:
    samples = _speech()
    speech = voice.speech_hops(samples)
    before = voice.median_f3(samples, speech)
    assert before is not None
    change = voice.VoiceChange(alpha=1.0, tract=1.1)
    out = np.zeros_like(samples)
    voice.mcadams_file(samples, out, change.alpha, voice.tract_warp(before, change))
    after = voice.median_f3(out, speech)
    assert after is not None and abs(after - 1.1 * voice.REFERENCE_F3) < 0.06 * voice.REFERENCE_F3


def test_speech_is_found_in_a_quiet_recording() -> None:
    samples = _speech()
    quiet = np.concatenate([np.zeros(voice.RATE, dtype=np.float32), 0.01 * samples])
    hops = voice.speech_hops(quiet)
    assert hops[:70].sum() == 0  # the leading second of silence (less the hangover)
    assert hops[100:].mean() > 0.6


def test_kept_speech_needs_every_window_over_it_to_sound_like_the_clinician() -> None:
    windows: list[tuple[int, int, float | None]] = [
        (0, 160, 0.9),
        (50, 210, 0.9),
        (100, 260, 0.4),
        (300, 460, None),
    ]
    weights = voice.keep_weights(500, windows, threshold=0.75)
    assert weights[10:45].min() == 1.0  # covered only by clinician windows
    assert weights[100:260].max() == 0.0  # a window there sounds like someone else
    assert weights[300:].max() == 0.0  # silence is never "kept"
    assert 0 < weights[48] <= 1.0 and np.all(np.diff(weights[40:101]) <= 0)  # a ramp, no click


@pytest.mark.parametrize("ratio", [0.84, 1.19])
def test_the_pitch_moves_by_the_drawn_ratio_and_the_timing_stays(ratio: float) -> None:
    import librosa
    from scipy.signal import correlate

    samples = _speech()
    out = np.zeros_like(samples)
    voice.shift_pitch(samples, out, ratio)
    f0 = [float(np.nanmedian(librosa.yin(x, fmin=60, fmax=400, sr=voice.RATE))) for x in (samples, out)]
    assert abs(f0[1] / f0[0] - ratio) < 0.05

    def envelope(x: np.ndarray) -> np.ndarray:
        smooth = np.convolve(np.abs(x), np.ones(160) / 160, mode="same")
        return smooth - smooth.mean()

    lag = int(np.argmax(correlate(envelope(out), envelope(samples), mode="full"))) - (len(samples) - 1)
    assert abs(lag) < 0.015 * voice.RATE


def _look_run(distances: dict[int, float]) -> Any:
    """A stand-in for the pipeline's run whose drawn looks measure `distances` from the nearest
    person; it records which looks were measured and against how many people."""
    from types import SimpleNamespace

    from avatars.engine.anonymize.pipeline import _Run

    run = SimpleNamespace(rng=np.random.default_rng(3), measured=[], people=[])

    def look_distance(rgb: Any, observation: Any, sample: Any, look: int, people: list[Any]) -> float:
        run.measured.append(look)
        run.people.append(len(people))
        return distances.get(look, 0.5)

    run.look_distance = look_distance
    run.choose_look = lambda *args: _Run.choose_look(run, *args)  # type: ignore[arg-type]
    run.check_look = lambda *args: _Run.check_look(run, *args)  # type: ignore[arg-type]
    return run


SAMPLE = type("Sample", (), {"embedding": np.zeros(128)})()


def test_a_look_is_chosen_well_clear_of_the_person_and_the_farthest_when_none_is() -> None:
    from avatars.engine.anonymize.pipeline import LOOK_CHOICE_DISTANCE

    clear = _look_run({4: LOOK_CHOICE_DISTANCE + 0.01, 9: LOOK_CHOICE_DISTANCE - 0.01})
    assert clear.choose_look(None, None, SAMPLE, [SAMPLE.embedding]) == 4
    near = _look_run({2: 0.66, 11: 0.72, 6: 0.69})
    assert near.choose_look(None, None, SAMPLE, [SAMPLE.embedding]) == 11
    assert sorted(near.measured) == list(range(len(LOOKS)))


def test_a_drawn_look_that_drifts_near_the_person_is_replaced_on_the_next_sample() -> None:
    from avatars.engine.anonymize.pipeline import LOOK_DISTANCE
    from avatars.engine.anonymize.track import Track

    track = Track(id=0, first_frame=0, last_seen=0, points=None)
    distances = {1: 0.9, 5: 0.85}
    run = _look_run(distances)
    others = [np.ones(128), np.full(128, 2.0)]
    run.check_look(track, None, None, SAMPLE, others)
    first = track.look
    assert first in distances and track.look_changes == 0
    # Every look is measured against the replaced person and everyone else in the video.
    assert set(run.people) == {3}
    # Still clear of everyone: kept, and only that look is measured.
    run.measured.clear()
    run.check_look(track, None, None, SAMPLE, others)
    assert track.look == first and run.measured == [first]
    # Pose and expression moved it under the margin: another look, counted.
    distances[first] = LOOK_DISTANCE - 0.01
    run.check_look(track, None, None, SAMPLE, others)
    assert track.look != first and track.look in distances and track.look_changes == 1
