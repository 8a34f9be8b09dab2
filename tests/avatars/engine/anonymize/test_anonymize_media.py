"""The anonymization engine on real people from ../shared/media (skipped where it is absent).

dlib (HOG detection, 128-d embeddings) judges the output; the engine finds faces with BlazeFace.
"""

from __future__ import annotations

import glob
from pathlib import Path

import av
import numpy as np
import pytest
from anonymize_clips import decoded, media, write_clip

from avatars.engine.anonymize import AnonymizeSpec, anonymize, identity, voice
from avatars.engine.media import read_image
from core.media.faces import detect_faces

pytestmark = pytest.mark.media


def photo_clip(path: Path, target: Path, frames: int = 6) -> Path:
    rgb = read_image(path)
    return write_clip(target, [rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]] * frames)


def test_a_grid_speaker_is_never_left_recognisable(tmp_path: Path) -> None:
    clip = media("talking", "grid", "bbaf2n.mpg")
    result = anonymize(AnonymizeSpec(input=clip, output=tmp_path / "out.mp4", mode="synthetic", seed=4))
    assert len(result.tracks) == 1 and result.tracks[0].replaced_frames == result.frames
    for original, output in list(zip(decoded(clip), decoded(result.output), strict=False))[::6]:
        [face] = detect_faces(original, thorough=True)
        before = identity.sample_near(original, tuple(map(float, face.box)))
        assert before is not None
        # At the very landmarks of the original face, the output is someone else...
        assert np.linalg.norm(identity.embed_at(output, before) - before.embedding) > 0.6
        # ...and any face dlib finds in the output is not the speaker.
        for found in detect_faces(output, thorough=True):
            assert np.linalg.norm(identity.embed(output, found) - before.embedding) > 0.6


def test_both_people_in_a_photo_are_blurred_beyond_detection(tmp_path: Path) -> None:
    clip = photo_clip(media("faces", "named", "test", "kit_with_rose.jpg"), tmp_path / "two.mkv")
    assert len(detect_faces(decoded(clip)[0], thorough=True)) == 2
    result = anonymize(AnonymizeSpec(input=clip, output=tmp_path / "out.mp4", mode="blur", seed=4))
    assert len(result.tracks) == 2
    assert all(detect_faces(frame, thorough=True) == [] for frame in decoded(result.output))


def test_the_enrolled_clinician_is_kept_and_the_other_person_replaced(tmp_path: Path) -> None:
    clip = photo_clip(media("faces", "named", "test", "kit_with_rose.jpg"), tmp_path / "two.mkv")
    enrolment = []
    for path in sorted(glob.glob(str(media("faces", "named", "train", "kit_harington") / "*"))):
        rgb = read_image(Path(path))
        enrolment.append(identity.embed(rgb, detect_faces(rgb, thorough=True)[0]))
    clinician = np.mean(enrolment, axis=0)
    result = anonymize(
        AnonymizeSpec(input=clip, output=tmp_path / "out.mp4", mode="mask", keep_faces=(clinician,), seed=4)
    )
    assert sorted(t.kept_frames > 0 for t in result.tracks) == [False, True]
    for frame in decoded(result.output):
        [kept] = detect_faces(frame, thorough=True)
        assert np.linalg.norm(identity.embed(frame, kept) - clinician) < 0.45


def test_identifying_metadata_of_a_real_recording_is_gone(tmp_path: Path) -> None:
    clip = media("talking", "retalking", "1.mp4")
    with av.open(str(clip)) as container:
        assert "comment" in container.metadata  # the recorder's own advertising text
    result = anonymize(AnonymizeSpec(input=clip, output=tmp_path / "out.mp4", mode="blur", seed=4))
    with av.open(str(result.output)) as container:
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands", "encoder"}


def test_the_clinicians_voice_is_kept_and_the_patients_changed() -> None:
    import soundfile as sf

    root = media("speech", "librispeech")
    clinician = [sf.read(f, dtype="float32")[0] for f in sorted(glob.glob(str(root / "1688" / "*.flac")))[:7]]
    patient = [sf.read(f, dtype="float32")[0] for f in sorted(glob.glob(str(root / "3080" / "*.flac")))[:2]]
    template = voice._embed(np.concatenate(clinician[:5]))
    sound = np.concatenate([clinician[5], patient[0], clinician[6], patient[1]]).astype(np.float32)
    owner = np.concatenate(
        [
            np.full(len(x), who)
            for x, who in zip([clinician[5], patient[0], clinician[6], patient[1]], "cpcp", strict=True)
        ]
    )
    out = np.zeros_like(sound)
    report = voice.anonymize_voice(
        sound, out, change=voice.VoiceChange(0.7, 1.1), keep_voice=template, keep_threshold=0.75
    )
    loud = np.abs(sound) > 0.02
    unchanged = np.abs(out - sound) < 1e-4
    assert unchanged[loud & (owner == "c")].mean() > 0.6
    assert unchanged[loud & (owner == "p")].mean() < 0.02
    assert report.kept_similarity is not None and report.kept_similarity > 0.75
    assert report.anonymized_similarity is not None and report.anonymized_seconds > 3
