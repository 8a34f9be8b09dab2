"""Footage mode's mouth choice (issue 13 item 2): which mouth changes count as cuts (shown through an
in-between), and where the head moves fast the base frame keeps its own mouth. Drawn enrollments, so
the expected answer is known."""

from __future__ import annotations

import numpy as np

from avatars.engine.enrollment import EnrollmentAnalysis
from avatars.engine.footage import choose_mouths, mouth_cuts, own_mouth_weights

FRAMES = 160


def _analysis(head_moves_at: int | None = None) -> EnrollmentAnalysis:
    """A still head whose mouth opens and closes slowly (period 40 frames); the mouth's look (its
    appearance code) follows the opening, plus a second dimension that drifts, as light does."""
    time = np.arange(FRAMES)
    opening = 0.5 - 0.5 * np.cos(2 * np.pi * time / 40)
    points = np.tile(np.array([[130.0, 100], [110, 100], [70, 100], [90, 100], [100, 130]]), (FRAMES, 1, 1))
    if head_moves_at is not None:
        points[head_moves_at + 1 :] += [6.0, 0.0]
    codes = np.stack([10 * opening, 0.005 * time], axis=1)
    return EnrollmentAnalysis(
        width=200, height=200, fps=25.0, eye_distance=60.0, landmarks=points,
        usable=np.ones(FRAMES, dtype=bool), patches=np.zeros((FRAMES, 8, 8, 3), dtype=np.uint8),
        openings=opening, appearance=codes, loop_end=FRAMES,
    )  # fmt: skip


def test_only_changes_beyond_an_ordinary_step_count_as_cuts() -> None:
    analysis = _analysis()
    path = np.array([10, 11, 12, 12, 13, 53, 54, 0, 1], dtype=np.int64)
    cuts = mouth_cuts(analysis, path)
    # 12 -> 12 is a hold, 13 -> 53 lands on a mouth as open as the last (a period later: only the
    # light has drifted a little), 54 -> 0 goes from half open to closed.
    assert cuts.tolist() == [False, False, False, False, False, False, False, True, False]


def test_where_the_head_moves_fast_the_frame_keeps_its_own_mouth() -> None:
    analysis = _analysis(head_moves_at=82)
    # The output plays footage 32-131 straight through; the speech wants the mouth a little open
    # all along (the 30% quantile of the clinician's openings, about 0.21).
    count = 100
    own = np.arange(32, 32 + count, dtype=np.int64)
    base_points = analysis.landmarks[own]
    weights = own_mouth_weights(analysis, base_points, own)
    fast = np.flatnonzero(weights > 0)
    assert fast.tolist() == [50, 51]  # the frames on both sides of the move (footage 82 -> 83)
    target = np.full(count, 0.3)
    path = choose_mouths(analysis, target, base_points, own)
    assert path[50] == 82 and path[51] == 83  # nearly shut (0.02, 0.05), but their own
    # Elsewhere the speech decides, not the footage's own mouth (which opens and closes).
    rest = np.r_[0:48, 54:count]
    assert np.mean(np.abs(analysis.openings[path[rest]] - 0.21) < 0.1) > 0.8
    assert np.mean(path[rest] == own[rest]) < 0.3
    # An in-between (no mouth of its own) is never held to one.
    own[50:52] = -1
    assert not own_mouth_weights(analysis, base_points, own)[50:52].any()
