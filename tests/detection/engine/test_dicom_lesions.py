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


# --- the residual-statistics classifier (lesions.window_features / train_classifier) ----------------


def synthetic_slice(seed: int, size: int = 96) -> np.ndarray:
    """An integer slice with smooth anatomy and spatially correlated noise, like a reconstructed CT."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    anatomy = gaussian_filter(rng.normal(0, 1, (size, size)), 6) * 400 + 1000
    noise = gaussian_filter(rng.normal(0, 1, (size, size)), 0.8) * 60
    return np.round(anatomy + noise)


def test_edits_are_written_back_on_the_slice_grid_and_range() -> None:
    from detection.engine.dicom.lesions import edited_windows

    frame = synthetic_slice(1)
    windows, labels, kinds, references = edited_windows([frame], 10, seed=0)

    assert windows.shape[1:] == (PATCH, PATCH) and len(windows) == len(labels) == len(references) == 40
    assert (labels == 1).sum() == 20 and set(kinds[labels == 1]) == {"inject", "remove"}
    assert np.array_equal(windows, np.round(windows))  # no fractional values give the edit away
    assert windows.min() >= frame.min() and windows.max() <= frame.max()


def test_the_features_do_not_depend_on_the_slice_scale_or_offset() -> None:
    from detection.engine.dicom.lesions import tissue_windows, window_features

    windows, _ = tissue_windows(synthetic_slice(2))

    assert np.allclose(window_features(windows), window_features(windows * 7 + 300), atol=1e-3)


def test_a_classifier_trained_on_some_slices_finds_edits_on_other_slices() -> None:
    from detection.engine.dicom.lesions import classify_windows, edited_windows, train_classifier
    from detection.engine.metrics import roc_auc

    train = [edited_windows([synthetic_slice(seed)], 60, seed=seed) for seed in (10, 11, 12)]
    model = train_classifier(
        np.concatenate([t[0] for t in train]),
        np.concatenate([t[1] for t in train]),
        np.concatenate([t[3] for t in train]),
        epochs=150,
    )
    windows, labels, _, references = edited_windows([synthetic_slice(20)], 60, seed=20)

    scores = classify_windows(windows, references, model)

    assert roc_auc(scores[labels == 1], scores[labels == 0]) > 0.8


def test_the_sliding_heatmap_is_hottest_at_an_injected_nodule() -> None:
    from detection.engine.dicom.lesions import _edit, edited_windows, slice_lesion_map, train_classifier

    train = [edited_windows([synthetic_slice(seed)], 60, seed=seed) for seed in (30, 31, 32)]
    model = train_classifier(
        np.concatenate([t[0] for t in train]),
        np.concatenate([t[1] for t in train]),
        np.concatenate([t[3] for t in train]),
        epochs=150,
    )
    frame = synthetic_slice(40, 128)
    rng = np.random.default_rng(1)
    edited = frame.copy()
    edited[48:80, 48:80] = np.round(_edit(frame[48:80, 48:80], frame[0:32, 0:32], "inject", rng))

    score, heat = slice_lesion_map(edited, model)

    assert heat.shape == frame.shape and heat.min() >= 0 and heat.max() <= 1
    assert heat[56:72, 56:72].mean() > heat.mean() + 0.1
    # The slice's score (its most suspect window) is NOT compared with the untouched slice's here: over
    # a whole slice some untouched window scores as high, which is why the classifier is not shipped
    # (BENCHMARKS.md, DICOM lesion section).
    assert np.isfinite(score)
