"""Synthetic consent statements are held for a clinic admin, never accepted (issue 12, "Must show"):
the render engine's own footage-mode output of the enrolled clinician saying the statement, and the
product's TTS voice saying it over a real recording of the clinician. Each is made here the way
bench/statement_checks.py makes it, says the exact statement with the one-time code just issued, and
goes through the product's own path: challenge, live upload, the statement check job. Real media from
../shared/media (GRID); skips without it. Small renders and 3-second clips keep each test short."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consent.models import LedgerEntry, LikenessConsent
from core.models import MediaJob
from tests.avatars.conftest import grid_clip
from tests.avatars.statement_support import enroll_footage, live_statement_made_from

pytestmark = pytest.mark.media

#: The same man in two GRID recordings (checked by eye; see test_statement_genuine.py).
ENROLLMENT_CLIP, OTHER_TAKE = "pwij3p.mpg", "id2_vcd_swwp2s.mpg"


def _ledger_scores(consent: LikenessConsent) -> dict[str, Any]:
    entry = LedgerEntry.objects.get(event_type="likeness_consent.evidence_checked", object_id=str(consent.id))
    data = json.loads(entry.entry)["data"]
    assert data["passed"] is False and data["held_for_manual_verification"] is True
    scores = data["scores"]
    assert isinstance(scores, dict) and scores["passed"] is False
    return scores


def _assert_held_with_scores(consent: LikenessConsent, job: MediaJob) -> dict[str, Any]:
    """Held for manual verification, and every check's score on the ledger."""
    assert consent.status == "awaiting_verification"
    assert job.result["passed"] is False and job.result["reasons"]
    scores = _ledger_scores(consent)
    assert {"face_distance_milli", "voice_similarity_milli", "min_voice_similarity_milli"} <= set(scores)
    assert {
        "manipulation_synthetic_speech_milli",
        "manipulation_synthetic_speech_threshold_milli",
        "reuse_sound_bit_errors_milli",
    } <= set(scores)
    assert "words_score_milli" in scores and "words_threshold_milli" in scores
    return scores


def _failed(consent: LikenessConsent) -> set[str]:
    return {name for name, check in consent.statement_checks.items() if not check["passed"]}


def _synthetic_speech_caught(consent: LikenessConsent, job: MediaJob, scores: dict[str, Any]) -> None:
    """The scanner's synthetic-speech analyzer flags the espeak voice, with timed evidence."""
    manipulation = consent.statement_checks["manipulation"]
    synthetic = manipulation["analyzers"]["synthetic_speech"]
    assert manipulation["passed"] is False
    assert synthetic["flagged"] is True and synthetic["score"] >= synthetic["threshold"]
    assert any("machine-made" in e["note"] for e in synthetic["evidence"])
    assert (
        "The recording shows signs of manipulation; a clinic admin will review it." in job.result["reasons"]
    )
    assert scores["manipulation_passed"] is False
    assert scores["manipulation_synthetic_speech_milli"] == round(synthetic["score"] * 1000)
    assert (
        scores["manipulation_synthetic_speech_milli"]
        >= scores["manipulation_synthetic_speech_threshold_milli"]
    )


def _voice_caught(consent: LikenessConsent, scores: dict[str, Any]) -> None:
    """The identity check fails on the voice (the espeak voice is not the clinician's), with the
    reason the clinician is shown, and the ledger has the score below its threshold."""
    identity = consent.statement_checks["identity"]
    assert identity["passed"] is False
    assert identity["voice_similarity"] < identity["min_voice_similarity"]
    assert any("voice in the recording does not match" in reason for reason in identity["reasons"])
    assert scores["identity_passed"] is False and scores["voice_passed"] is False
    assert scores["voice_similarity_milli"] < scores["min_voice_similarity_milli"]


def test_the_render_engines_footage_mode_output_of_the_clinician_saying_the_statement_is_held(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    """The attacker renders the enrolled footage (mouth re-animated, the product's synthetic voice)
    saying the exact statement and code: identity fails on the voice and the re-use check does not
    see the enrollment in it (measured: BENCHMARKS.md, 0/6 accepted, re-use catches none)."""
    from avatars.engine.render import render
    from avatars.engine.specs import Disclosure, FootageAvatar, RenderSpec, ScriptNarration

    footage = grid_clip(ENROLLMENT_CLIP)
    enroll_footage(studio, footage, django_capture_on_commit_callbacks)

    def rendered(text: str) -> Path:
        folder = tmp_path / "render"
        folder.mkdir()
        result = render(
            RenderSpec(
                FootageAvatar(footage),
                ScriptNarration(text, words_per_minute=190),
                Disclosure("AI-generated video", "AI video.", "End."),
                folder,
                width=360,
                height=288,
            )
        )
        return result.video

    consent, job = live_statement_made_from(studio, django_capture_on_commit_callbacks, rendered)
    scores = _assert_held_with_scores(consent, job)
    _voice_caught(consent, scores)
    _synthetic_speech_caught(consent, job, scores)
    assert {"identity", "manipulation"} <= _failed(consent), _failed(consent)
    # Captured "live" with a valid code, it is the voice and the synthetic-speech evidence that hold
    # it. (Whether the recogniser hears the randomly drawn code in espeak speech varies with the
    # words drawn: not asserted.)
    assert consent.statement_checks["capture"]["passed"] is True


def test_the_products_synthetic_voice_over_a_real_recording_of_the_clinician_is_held(
    studio: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    """The product's TTS (espeak-ng) reads the exact statement and code, muxed onto another real
    recording of the enrolled clinician (the picture looped to the speech's length): the face is
    his; the voice is not, and it sounds machine-made. (Whether the recogniser hears the drawn code
    in this espeak voice, and whether lip-sync liveness fails, varies with the code: not asserted.)"""
    import numpy as np

    from avatars.engine.speech import SAMPLE_RATE, resample, synthesize
    from core.media.mp4 import AUDIO_RATE, Mp4Writer, even_size
    from provenance.engine.media_io import iter_frames, video_info

    enroll_footage(studio, grid_clip(ENROLLMENT_CLIP), django_capture_on_commit_callbacks)
    picture = grid_clip(OTHER_TAKE)

    def dubbed(text: str) -> Path:
        voice = synthesize(text, words_per_minute=190).samples
        info = video_info(picture)
        width, height = even_size(info.width, info.height)
        frames = [rgb[:height, :width] for rgb in iter_frames(picture)]
        loop = frames + frames[::-1]  # forwards then backwards: no jump at the seam
        needed = int(np.ceil(len(voice) / SAMPLE_RATE * float(info.fps)))
        out = tmp_path / "tts.mp4"
        with Mp4Writer(out, width=width, height=height, fps=float(info.fps)) as writer:
            for number in range(needed):
                writer.write_frame(loop[number % len(loop)])
            writer.write_audio(resample(voice, SAMPLE_RATE, AUDIO_RATE))
        return out

    consent, job = live_statement_made_from(studio, django_capture_on_commit_callbacks, dubbed)
    scores = _assert_held_with_scores(consent, job)
    _voice_caught(consent, scores)
    identity = consent.statement_checks["identity"]
    assert identity["face_distance"] <= identity["max_face_distance"]  # the face is really his
    _synthetic_speech_caught(consent, job, scores)
    # Liveness (lip-sync against the looped picture) fails on some drawn codes and passes on others:
    # the weak signal issue 12 describes, so it is not asserted.
    assert {"identity", "manipulation"} <= _failed(consent), _failed(consent)
