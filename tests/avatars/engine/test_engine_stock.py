"""The stock presenter's face: relaxed eyes that blink with the lid, a mouth with a real interior."""

from __future__ import annotations

import numpy as np

from avatars.engine.motion import Pose
from avatars.engine.stock import IRIS, LASH, MOUTH, MOUTH_DEEP, SCLERA, TEETH_SOFT, StockPresenter

STILL = Pose(0, 0, 0, 0)


def _count(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 0) -> int:
    return int((np.abs(image.astype(int) - colour).max(axis=2) <= tolerance).sum())


def _eye_band(presenter: StockPresenter, image: np.ndarray) -> np.ndarray:
    cx, cy, unit = presenter.center[0], presenter.center[1], presenter.unit
    return image[int(cy - 0.3 * unit) : int(cy + 0.1 * unit), int(cx - 0.6 * unit) : int(cx + 0.6 * unit)]


def test_the_upper_lid_rests_over_the_iris_so_the_eyes_do_not_stare() -> None:
    presenter = StockPresenter(640, 480)
    frame = presenter.draw((0.0, 0.5, 0.0), STILL)
    cx, cy, unit = presenter.center[0], presenter.center[1], presenter.unit
    for side in (-1, 1):
        x = int(round(cx + side * 0.335 * unit))
        column = frame[int(cy - 0.3 * unit) : int(cy + 0.1 * unit), x - 1 : x + 2]
        # The white of the eye shows beside the iris only, never above it (a stare shows it there).
        assert _count(column, SCLERA, 12) == 0
        assert _count(column, IRIS, 40) > 0


def test_a_blink_lowers_the_lid_until_no_eye_shows() -> None:
    presenter = StockPresenter(640, 480)
    visible = []
    for blink in (0.0, 0.5, 1.0):
        band = _eye_band(presenter, presenter.draw((0.0, 0.5, 0.0), Pose(0, 0, 0, blink)).copy())
        visible.append(_count(band, SCLERA) + _count(band, IRIS))
        assert _count(band, LASH, 30) > 0  # the lash line is drawn at the lid's edge throughout
    assert visible[0] > visible[1] > visible[2] == 0


def test_an_open_mouth_shows_a_dark_interior_with_a_short_band_of_teeth() -> None:
    presenter = StockPresenter(640, 480)
    closed = presenter.draw((0.0, 0.5, 0.0), STILL).copy()
    opened = presenter.draw((0.9, 0.6, 0.0), STILL).copy()
    assert _count(closed, MOUTH) == 0 and _count(closed, TEETH_SOFT) == 0
    cavity = _count(opened, MOUTH) + _count(opened, MOUTH_DEEP)
    teeth = _count(opened, TEETH_SOFT)
    assert cavity > 0 and teeth > 0
    # Teeth are a small part of the opening (a grimace shows a band as big as the mouth).
    assert teeth < 0.35 * cavity


def test_the_head_sways_with_the_pose() -> None:
    presenter = StockPresenter(320, 240)
    still = presenter.draw((0.0, 0.5, 0.0), STILL).copy()
    swayed = presenter.draw((0.0, 0.5, 0.0), Pose(0.01, 0.0, 1.5, 0.0)).copy()
    assert np.abs(still.astype(int) - swayed.astype(int)).sum() > 0
    assert np.array_equal(still[:, :20], swayed[:, :20])  # the room behind stays still
