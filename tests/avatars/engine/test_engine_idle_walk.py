"""Footage mode's idle motion and mouth composite (issue 13 item 2): the walk jumps only where a jump
is hard to see, a remaining gap is bridged by moving pictures rather than fading them, and a mouth
from a differently lit frame goes in without a seam. Drawn inputs, so the expected answer is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avatars.engine.compose import blend_seamless, mouth_mask
from avatars.engine.motion import (
    GOOD_JUMP_COST,
    IdleWalk,
    bridge_length,
    flow_inbetweens,
    jump_costs,
    pairwise_distances,
)


def _swaying(count: int = 150) -> np.ndarray:
    """Features of a head swaying back and forth (period 50 frames) with a slow drift."""
    time = np.arange(count)
    return np.stack([np.sin(2 * np.pi * time / 50), np.cos(2 * np.pi * time / 50), 0.0005 * time], axis=1)


def test_a_jump_costs_what_its_ends_differ_in_typical_steps() -> None:
    costs = jump_costs(pairwise_distances(_swaying()))
    assert costs[10, 11] == pytest.approx(0.0, abs=1e-6)  # the natural next frame
    assert costs[10, 61] < 0.3  # one period later: same pose, same direction of motion
    assert costs[10, 36] > 10  # half a period later: the other side
    assert np.isinf(costs[-1]).all()  # the last frame has no next frame to resemble


def test_the_walk_only_takes_good_jumps_besides_its_return_and_runs_forever() -> None:
    costs = jump_costs(pairwise_distances(_swaying()))
    walk = IdleWalk(costs, seed=3, fps=25)
    steps = list(itertools.islice(walk.steps(), 2000))
    jumps = [(step.jumped_from, step.frame) for step in steps if step.jumped_from is not None]
    assert len(jumps) > 10
    for source, target in jumps:
        assert abs(target - (source + 1)) >= walk.min_jump
        assert costs[source, target] <= GOOD_JUMP_COST or (source, target) == (walk.ret_from, walk.ret_to)
    assert all(step.frame <= walk.ret_from for step in steps)
    # Playing forwards between jumps, so the real motion is kept.
    plain = [(a, b) for a, b in itertools.pairwise(steps) if b.jumped_from is None]
    assert all(b.frame == a.frame + 1 for a, b in plain)


def test_the_walk_depends_on_its_seed_and_only_on_it() -> None:
    costs = jump_costs(pairwise_distances(_swaying()))

    def path(seed: int) -> list[int]:
        return [step.frame for step in itertools.islice(IdleWalk(costs, seed=seed, fps=25).steps(), 600)]

    assert path(1) == path(1)
    assert path(1) != path(2)


def test_a_costly_jump_gets_in_betweens_and_a_seamless_one_none() -> None:
    assert bridge_length(0.8) == 0
    assert bridge_length(2.5) == 2
    assert bridge_length(float("inf")) == 0
    assert bridge_length(1000.0) == 8


def _disc(centre_x: float) -> np.ndarray:
    picture = np.full((96, 160, 3), 40, dtype=np.uint8)
    y, x = np.mgrid[:96, :160]
    inside = (x - centre_x) ** 2 + (y - 48) ** 2 <= 14**2
    picture[inside] = (230, 200, 170)
    # Texture, so the flow has something to hold on to.
    return np.clip(picture.astype(int) + (np.sin(x / 2.0) * 6).astype(int)[..., None], 0, 255).astype(
        np.uint8
    )


def test_in_betweens_move_the_picture_instead_of_showing_both_ends_at_once() -> None:
    first, second = _disc(50), _disc(74)
    middle = flow_inbetweens(first, second, 1)[0].astype(float).mean(axis=2)
    row = middle[44:53].mean(axis=0)
    # One disc half-way, at full brightness: a cross-fade would show two half-bright discs instead.
    bright = np.flatnonzero(row > 150)
    assert len(bright) > 18 and abs(bright.mean() - 62) < 3
    assert row[36:40].mean() < 120 and row[84:88].mean() < 120  # nothing left at either end


def test_a_mouth_from_a_brighter_frame_goes_in_without_a_step_at_its_edge() -> None:
    rng = np.random.default_rng(0)
    texture = rng.normal(0, 6, size=(120, 124, 1))
    base = np.clip(120 + texture + np.zeros((1, 1, 3)), 0, 255).astype(np.uint8)
    mouth = np.clip(165 + texture[::-1] + np.zeros((1, 1, 3)), 0, 255).astype(np.uint8)
    mouth[60:75, 40:84] = 30  # an open mouth
    binary, soft = mouth_mask(124, 120, left=-0.62, top=0.55, units=100.0)
    region = base.copy()
    blend_seamless(region, mouth, binary, soft)
    edge = (binary > 0) & (soft < 0.05)
    step = np.abs(region[edge].astype(float) - base[edge].astype(float)).mean()
    assert step < 6, step  # a plain paste would step by ~45 grey levels here
    # The open mouth itself is kept, dark against the face.
    assert region[62:73, 45:80].mean() < region[30:40, 45:80].mean() - 60
