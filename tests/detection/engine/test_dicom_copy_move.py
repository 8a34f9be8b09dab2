"""Passive copy-move evidence: a region copied within a slice is found at its shift, with a heatmap on
both places; an untouched slice scores nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detection.engine.dicom import read_instance
from detection.engine.dicom.copy_move import copy_move


def textured(seed: int, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, size=(size, size)).astype(np.int16)


def test_a_copied_region_is_found_at_its_shift_with_a_heatmap_on_both_places() -> None:
    image = textured(1)
    image[60:84, 50:74] = image[10:34, 5:29]

    result = copy_move(image)

    assert result.shift == (50, 45)
    assert result.score == (24 - 8 + 1) ** 2
    assert result.heatmap[20, 15] == 1.0 and result.heatmap[70, 60] == 1.0
    assert result.heatmap[5, 80] == 0.0


def test_an_untouched_noise_image_scores_nothing() -> None:
    result = copy_move(textured(2))

    assert result.score == 0 and result.shift == (0, 0) and not result.heatmap.any()


def test_flat_and_posterized_regions_do_not_match() -> None:
    image = np.zeros((96, 96), dtype=np.uint8)
    image[:, 48:] = 200  # two flat halves and one straight edge: every block repeats
    image[10:20, 10:20] = 90

    assert copy_move(image).score == 0


def test_a_tiny_slice_is_left_alone() -> None:
    assert copy_move(np.ones((10, 10), dtype=np.uint8)).score == 0


def test_a_copy_move_edit_of_a_real_ct_slice_outscores_the_slice(shared_media: Path) -> None:
    path = shared_media / "medical" / "dicom" / "CT_small.dcm"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    frame = read_instance(path.read_bytes()).frames[0]
    edited = frame.copy()
    edited[80:104, 70:94] = frame[30:54, 40:64]

    untouched, tampered = copy_move(frame), copy_move(edited)

    assert untouched.score == 0
    assert tampered.shift == (50, 30) and tampered.score > 50


def test_a_region_copied_from_a_neighbouring_slice_to_another_place_is_found() -> None:
    from detection.engine.dicom.copy_move import copy_move_between

    first, second = textured(3), textured(4)
    second[50:74, 60:84] = first[10:34, 5:29]

    result = copy_move_between(first, second)
    untouched = copy_move_between(first, textured(4))

    assert result.shift == (40, 55) and result.score == (24 - 8 + 1) ** 2
    assert result.heatmaps[0][20, 15] == 1.0 and result.heatmaps[1][60, 70] == 1.0
    assert result.heatmaps[0][60, 70] == 0.0  # the copy is in the second slice only
    assert untouched.score == 0


def test_slices_of_different_sizes_are_not_compared() -> None:
    from detection.engine.dicom.copy_move import copy_move_between

    assert copy_move_between(textured(1, 96), textured(2, 64)).score == 0


def test_neighbouring_frames_of_a_real_study_score_low_until_one_is_edited(shared_media: Path) -> None:
    from detection.engine.dicom.copy_move import copy_move_between

    path = shared_media / "medical" / "dicom" / "examples_ybr_color.dcm"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    frames = read_instance(path.read_bytes()).frames
    edited = frames[1].copy()
    edited[150:182, 200:232] = frames[0][100:132, 120:152]

    assert copy_move_between(frames[0], frames[1]).score < 20
    tampered = copy_move_between(frames[0], edited)
    assert tampered.shift == (50, 80) and tampered.score > 200
