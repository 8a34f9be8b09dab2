"""Lesion injection and removal edits (CT-GAN manner) and the classifier's input and output: the edits
stay local and keep the window's noise level; the net reads two channels and gives a probability."""

from __future__ import annotations

import numpy as np

from detection.engine.dicom.lesions import (
    PATCH,
    lesion_inject,
    lesion_net,
    lesion_remove,
    noise_level,
    normalized,
    window_probabilities,
)


def window(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:PATCH, :PATCH]
    return 0.5 + 0.004 * xx + rng.normal(0, 0.02, (PATCH, PATCH))


def test_an_injected_lesion_is_a_local_bright_blend_with_the_same_noise_level() -> None:
    original = window(1)

    edited = lesion_inject(original, np.random.default_rng(2))

    changed = np.abs(edited - original) > 1e-9
    assert 0 < changed.mean() < 0.5  # a disc, not the whole window
    assert not changed[0, 0] and not changed[-1, -1]
    assert edited[changed].mean() > original[changed].mean()
    assert abs(noise_level(edited) - noise_level(original)) < 0.3 * noise_level(original)


def test_a_removed_lesion_takes_away_a_bright_spot() -> None:
    original = window(3)
    yy, xx = np.mgrid[:PATCH, :PATCH]
    spot = np.hypot(yy - 16, xx - 16) < 5
    original[spot] += 0.3
    rng = np.random.default_rng(4)

    # Removals are placed near the centre at random: over a few tries one covers the spot.
    best = min(lesion_remove(original, rng)[spot].mean() for _ in range(5))

    assert best < original[spot].mean() - 0.1


def test_the_net_input_has_the_window_and_its_noise_residual() -> None:
    inputs = normalized(np.stack([window(5), window(6)]))

    assert inputs.shape == (2, 2, PATCH, PATCH) and inputs.dtype == np.float32
    assert abs(float(np.median(inputs[:, 0]))) < 0.1


def test_the_untrained_net_gives_one_probability_per_window() -> None:
    probabilities = window_probabilities(np.stack([window(8), window(9), window(10)]), lesion_net())

    assert probabilities.shape == (3,)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
