"""Building blocks measured on generated data: metrics, time ranges, lip-sync, jitter, self-blending, speech features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detection.engine.metrics import equal_error_rate, roc_auc, tpr_at_fpr
from detection.engine.results import Analyzer, AnalyzerResult, TimeRange, merge_times
from detection.engine.sbi import RealFace, self_blend
from detection.engine.temporal import LIP_SYNC_CENTRE, lip_sync_measure, second_difference_jitter


def test_roc_auc_counts_how_often_a_positive_outscores_a_negative() -> None:
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5, 0.9], [0.5, 0.1]) == pytest.approx(0.875)


def test_tpr_at_low_fpr_uses_the_strictest_threshold_the_negatives_allow() -> None:
    negatives = np.linspace(0, 0.5, 100)
    positives = [0.498, 0.6, 0.7, 0.8]  # one between the two highest negatives

    tpr, threshold = tpr_at_fpr(positives, negatives, 0.01)

    assert threshold == pytest.approx(negatives[-2])
    assert tpr == 1.0
    assert tpr_at_fpr(positives, negatives, 0.0)[0] == 0.75


def test_equal_error_rate_is_zero_for_separable_scores_and_half_for_identical_ones() -> None:
    assert equal_error_rate([0.9, 0.8], [0.1, 0.2])[0] == 0.0
    assert equal_error_rate([0.5, 0.5], [0.5, 0.5])[0] == pytest.approx(0.5)


def test_sample_times_close_together_merge_into_one_range() -> None:
    ranges = merge_times([0.0, 0.5, 1.0, 4.0], gap=1.0, pad=0.25)

    assert ranges == (TimeRange(0.0, 1.25), TimeRange(3.75, 4.25))


def test_a_skipped_result_is_never_flagged() -> None:
    assert not AnalyzerResult(Analyzer.LIP_SYNC, 0.9, False, 0.5, skipped="No sound.").flagged
    assert AnalyzerResult(Analyzer.LIP_SYNC, 0.9, False, 0.5).flagged


def _speech_like(rng: np.random.Generator, frames: int) -> np.ndarray:
    # Syllable-like bursts of loudness change.
    return np.abs(np.convolve(rng.normal(0, 1, frames), np.ones(3) / 3, mode="same"))


def test_a_mouth_that_follows_the_sound_is_in_sync_and_one_that_does_not_is_not() -> None:
    rng = np.random.default_rng(3)
    loudness = _speech_like(rng, 300)
    following = np.roll(loudness, 1) + rng.normal(0, 0.2, 300)
    unrelated = _speech_like(rng, 300)

    in_sync = lip_sync_measure(following, loudness)
    out_of_sync = lip_sync_measure(unrelated, loudness)

    assert in_sync is not None and out_of_sync is not None
    assert in_sync.z > 3 > LIP_SYNC_CENTRE
    assert out_of_sync.z < in_sync.z / 3


def test_lip_sync_says_nothing_about_too_short_a_face() -> None:
    series = np.arange(20, dtype=np.float64)

    assert lip_sync_measure(series, series) is None


def test_jitter_ignores_smooth_drift_but_not_trembling() -> None:
    smooth = np.linspace(0, 1, 100)
    trembling = smooth + np.where(np.arange(100) % 2, 0.05, -0.05)

    assert second_difference_jitter(smooth) == pytest.approx(0.0, abs=1e-12)
    assert second_difference_jitter(trembling) == pytest.approx(0.1)
    assert math.isnan(second_difference_jitter(np.array([1.0, 2.0])))


def _textured_face(rng: np.random.Generator) -> RealFace:
    image = rng.integers(60, 200, (160, 160, 3)).astype(np.uint8)
    points = np.array([[100.0, 70.0], [88.0, 70.0], [60.0, 70.0], [72.0, 70.0], [80.0, 95.0]])
    return RealFace(image, points, (50.0, 50.0, 110.0, 120.0))


def test_a_self_blended_face_changes_only_inside_its_mask() -> None:
    face = _textured_face(np.random.default_rng(0))

    fake, mask = self_blend(face, np.random.default_rng(1))

    changed = np.abs(fake.astype(np.int16) - face.image.astype(np.int16)).max(axis=2) > 2
    assert 0 < mask.max() <= 1.0 and mask.min() >= 0.0
    assert changed.any()
    assert not changed[mask < 1e-3].any()
    assert mask[70:100, 60:100].mean() > mask[:20].mean()


def test_self_blending_is_reproducible_from_its_seed() -> None:
    face = _textured_face(np.random.default_rng(0))

    first, _ = self_blend(face, np.random.default_rng(5))
    second, _ = self_blend(face, np.random.default_rng(5))

    assert np.array_equal(first, second)


def test_speech_features_remove_each_bands_mean_and_ignore_loudness() -> None:
    from detection.engine.synthetic_speech import BANDS, spectral_features

    rng = np.random.default_rng(0)
    sound = (rng.normal(0, 0.05, 16_000) * np.sin(np.linspace(0, 40, 16_000)) ** 2).astype(np.float32)

    features = spectral_features(sound)
    louder = spectral_features(sound * 4)

    assert features.shape == (BANDS, 101)
    assert np.allclose(features.mean(axis=1), 0, atol=1e-4)
    assert np.allclose(features, louder, atol=1e-3)
