"""Passive splicing/inpainting evidence (noise inconsistency) and the examination of a whole study:
a painted-over or spliced region is scored and marked, an untouched noisy slice is not flagged, and
every method's threshold, accuracy and limits travel with the evidence."""

from __future__ import annotations

import numpy as np

from detection.engine.dicom.noise import noise_inconsistency
from detection.engine.dicom.passive import COPY_MOVE, METHODS, NOISE, examine, slice_evidence


def phantom(seed: int, size: int = 128, noise: float = 40.0) -> np.ndarray:
    """A smooth 'body' (a bright disc on a dark field, a gentle gradient) with scanner-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    body = 1000 + 3 * xx + 400 * (np.hypot(yy - size / 2, xx - size / 2) < size / 3)
    return np.round(body + rng.normal(0, noise, (size, size))).astype(np.int16)


def test_an_untouched_noisy_slice_is_not_flagged() -> None:
    result = noise_inconsistency(phantom(1))

    assert result.blocks > 20
    assert result.score < NOISE.threshold
    assert not result.heatmap[40:80, 40:80].any()


def test_a_painted_over_region_is_scored_and_marked_where_it_is() -> None:
    image = phantom(2).astype(np.float64)
    image[40:80, 20:60] = image[40:80, 20:60].mean()  # noise gone: a smoothed removal

    result = noise_inconsistency(image)

    assert result.score > NOISE.threshold
    assert result.heatmap[50:70, 30:50].mean() > 0.5
    assert result.heatmap[100:, 100:].max() == 0.0


def test_a_region_spliced_from_a_noisier_image_is_scored() -> None:
    image = phantom(3)
    donor = phantom(4, noise=250.0)
    image[30:70, 60:100] = donor[30:70, 60:100]

    assert noise_inconsistency(image).score > noise_inconsistency(phantom(3)).score * 3


def test_a_posterized_slice_is_not_judged() -> None:
    image = (phantom(5) // 200).astype(np.int16)  # a handful of grey levels

    result = noise_inconsistency(image)

    assert (result.score, result.blocks) == (0.0, 0)


def test_an_examination_flags_only_the_edited_slice_with_a_heatmap() -> None:
    clean = [phantom(10 + n) for n in range(3)]
    edited = clean[1].astype(np.float64)
    edited[40:80, 20:60] = edited[40:80, 20:60].mean()
    frames = [clean[0], edited, clean[2]]
    seen: list[float] = []

    result = examine(frames, seen.append)

    assert result.suspect == [1]
    assert result.slices[1].flagged == (NOISE.name,)
    assert set(result.heatmaps) == {1} and result.heatmaps[1][60, 40] > 0
    assert seen[-1] == 1.0
    # The slice after the edited one is compared with it across slices, and nothing matches.
    assert result.slices[2].scores["copy_move_previous"] <= METHODS[1].threshold
    payload = result.as_dict()
    assert payload["suspect"] == [1]
    assert set(payload["methods"]) == {m.name for m in METHODS}
    assert all(m["accuracy"] and m["limits"] for m in payload["methods"].values())


def test_a_copy_move_above_its_threshold_is_flagged_with_its_heatmap() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 4096, size=(96, 96)).astype(np.int16)
    image[60:84, 50:74] = image[10:34, 5:29]

    evidence, heat = slice_evidence(image, None)

    assert COPY_MOVE.name in evidence.flagged
    assert evidence.shifts[COPY_MOVE.name] == (50, 45)
    assert heat[70, 60] == 1.0 and heat[20, 15] == 1.0
