"""Quality measures: the lip-sync statistic itself, and the stock presenter measured by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_media import CONTROL_SCRIPTS, write_wav

from avatars.engine import Disclosure, RenderSpec, ScriptNarration, StockAvatar, render, synthesize
from bench.avatar_quality import landmark_jitter, lip_sync, measure, shifted_correlation, speech_energy


def test_lip_sync_finds_a_known_offset() -> None:
    rng = np.random.default_rng(3)
    energy = np.convolve(rng.random(200), np.ones(3) / 3, mode="same")
    openings = np.roll(energy, -2)  # the mouth moves two frames before the sound
    result = lip_sync(openings, energy)
    assert result.best_offset_frames == 2
    assert result.best_correlation > 0.95


def test_lip_sync_of_unrelated_signals_is_near_zero() -> None:
    rng = np.random.default_rng(4)
    assert abs(shifted_correlation(rng.random(500), rng.random(500), 0)) < 0.15


def test_frames_without_a_face_are_left_out_of_the_correlation() -> None:
    energy = np.sin(np.linspace(0, 20, 120)) ** 2
    openings = energy.copy()
    openings[10:20] = np.nan
    assert lip_sync(openings, energy).correlation > 0.99


def test_jitter_ignores_smooth_motion_but_sees_trembling() -> None:
    base = np.zeros((50, 68, 2))
    base[:, 36] = [0.0, 0.0]
    base[:, 45] = [100.0, 0.0]
    smooth = base + np.linspace(0, 20, 50)[:, None, None]
    trembling = smooth + np.random.default_rng(5).normal(0, 2, smooth.shape)
    assert landmark_jitter(smooth) < 1e-9 < 0.005 < landmark_jitter(trembling)


def test_speech_energy_is_centred_on_each_frame() -> None:
    samples = np.zeros(48_000, dtype=np.float32)
    samples[1920 * 10 : 1920 * 11] = 0.5
    energy = speech_energy(samples, 25, 25)
    assert np.argmax(energy) == 10 and energy[9] > 0 and energy[12] == 0


@pytest.fixture(scope="module")
def stock_video(
    tmp_path_factory: pytest.TempPathFactory, disclosure: Disclosure
) -> tuple[Path, float, float]:
    script = (
        "Your blood pressure is a little high. Take one tablet every morning with water, "
        "and check your pressure at home twice a week."
    )
    result = render(
        RenderSpec(
            StockAvatar(),
            ScriptNarration(script),
            disclosure,
            tmp_path_factory.mktemp("q"),
            width=384,
            height=288,
        )
    )
    return result.video, result.narration_start, result.narration_end


def test_the_stock_presenter_is_in_sync_with_its_own_speech(
    stock_video: tuple[Path, float, float], tmp_path: Path
) -> None:
    pytest.importorskip("dlib", reason="quality is measured with dlib landmarks")
    video, start, end = stock_video
    controls = [
        write_wav(tmp_path / f"control{index}.wav", synthesize(text).samples)
        for index, text in enumerate(CONTROL_SCRIPTS)
    ]
    # Only the narration is compared: the spoken disclaimers are the same in every render and
    # would make any control look in sync with them.
    result = measure(video, controls=controls, segment=(start, end))
    assert result.face_found_share > 0.95
    assert abs(result.lip_sync.best_offset_frames) <= 1
    assert result.lip_sync.best_correlation > 0.35
    assert result.beats_controls >= 9, result.controls
