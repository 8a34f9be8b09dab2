"""Analyzers on real media from ../shared/media (skipped with a reason where it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from detection_media import textured_frames, write_video

from detection.engine import (
    Analyzer,
    EnrolledPerson,
    ProvenanceState,
    ScanSpec,
    Verdict,
    VerdictKind,
    face_templates,
    scan,
    verdict_from,
)
from detection.engine.identity import voice_windows
from detection.engine.media import read_audio

pytestmark = pytest.mark.media
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def gallery(shared_media: Path) -> tuple[EnrolledPerson, ...]:
    train = shared_media / "faces" / "named" / "train"
    return tuple(
        EnrolledPerson(name, name.title(), face_embeddings=face_templates(sorted((train / name).iterdir())))
        for name in ("obama", "biden")
    )


def test_both_enrolled_people_in_a_group_photo_are_named(
    shared_media: Path, gallery: tuple[EnrolledPerson, ...]
) -> None:
    photo = shared_media / "faces" / "named" / "test" / "obama_and_biden.jpg"

    result = scan(ScanSpec(path=photo, analyzers=frozenset({Analyzer.FACE_IDENTITY}), gallery=gallery))

    face = result.result(Analyzer.FACE_IDENTITY)
    assert face is not None and face.flagged
    assert {s.subject_id for s in face.subjects if s.score >= 0.5} == {"obama", "biden"}


def test_someone_not_enrolled_is_not_named(shared_media: Path, gallery: tuple[EnrolledPerson, ...]) -> None:
    photo = shared_media / "faces" / "other" / "lin-manuel-miranda.png"

    result = scan(ScanSpec(path=photo, analyzers=frozenset({Analyzer.FACE_IDENTITY}), gallery=gallery))

    face = result.result(Analyzer.FACE_IDENTITY)
    assert face is not None and not face.skipped and not face.flagged


def test_a_clinician_is_found_only_in_the_seconds_where_they_appear(
    shared_media: Path, tmp_path: Path
) -> None:
    from detection.engine.faces import detect, embed
    from detection.engine.media import iter_frames

    clip = shared_media / "talking" / "grid" / "swiz3n.mpg"
    frames = [f.rgb() for f in iter_frames(clip)]
    enrolled = [[float(x) for x in embed(frames[10], detect(frames[10])[0])]]
    height, width = frames[0].shape[:2]
    # Two seconds of abstract picture, then the speaker's three seconds.
    video = write_video(
        tmp_path / "cut.mp4", iter([*textured_frames(seconds=2.0, width=width, height=height), *frames])
    )

    result = scan(
        ScanSpec(
            path=video,
            analyzers=frozenset({Analyzer.FACE_IDENTITY}),
            gallery=(EnrolledPerson("c-9", "Dr. Grid", face_embeddings=enrolled),),
        )
    )

    face = result.result(Analyzer.FACE_IDENTITY)
    assert face is not None and face.best_subject is not None and face.flagged
    ranges = face.best_subject.time_ranges
    assert len(ranges) == 1 and 1.5 <= ranges[0].start <= 2.3 and ranges[0].end >= 4.5


def test_an_enrolled_voice_is_recognised_and_another_speaker_is_not(
    shared_media: Path, tmp_path: Path
) -> None:
    speech = shared_media / "speech" / "librispeech"

    def enrolled(speaker: str) -> list[list[float]]:
        windows = [voice_windows(read_audio(p)) for p in sorted((speech / speaker).glob("*.flac"))[:2]]
        return [[float(x) for x in w.utterance] for w in windows if w.utterance is not None]

    people = (
        EnrolledPerson("a", "Speaker 1688", voice_embeddings=enrolled("1688")),
        EnrolledPerson("b", "Speaker 3080", voice_embeddings=enrolled("3080")),
    )
    probe = sorted((speech / "1688").glob("*.flac"))[7]

    result = scan(ScanSpec(path=probe, analyzers=frozenset({Analyzer.VOICE_IDENTITY}), gallery=people))

    voice = result.result(Analyzer.VOICE_IDENTITY)
    assert voice is not None and voice.best_subject is not None
    assert voice.best_subject.subject_id == "a" and voice.best_subject.score >= 0.5
    assert [s.score for s in voice.subjects if s.subject_id == "b"][0] < 0.5


def test_a_face_gets_a_heatmap_picture_as_evidence(shared_media: Path) -> None:
    image = shared_media / "forgery" / "faceforensics" / "ex_deepfakes.png"

    result = scan(ScanSpec(path=image, analyzers=frozenset({Analyzer.VISUAL_MANIPULATION})))

    manipulation = result.result(Analyzer.VISUAL_MANIPULATION)
    assert manipulation is not None and not manipulation.skipped and len(manipulation.timeline) == 1
    evidence = manipulation.evidence[0]
    assert evidence.image_png.startswith(PNG_MAGIC)
    assert evidence.heatmap is not None and evidence.heatmap.shape == (16, 16)
    assert float(evidence.heatmap.min()) >= 0.0 and float(evidence.heatmap.max()) <= 1.0


@pytest.fixture(scope="module")
def grid_clip(
    shared_media: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, EnrolledPerson]:
    """A real GRID clip re-encoded with its own sound, the same with the sound 0.5 s late, and
    its speaker enrolled from one frame."""
    from avatars.engine.media import read_audio as read_48k
    from detection.engine.faces import detect, embed
    from detection.engine.media import iter_frames

    clip = shared_media / "talking" / "grid" / "swiz3n.mpg"
    frames = [f.rgb() for f in iter_frames(clip)]
    sound = read_48k(clip)
    folder = tmp_path_factory.mktemp("grid")
    original = write_video(folder / "original.mp4", iter(frames), audio=sound)
    late = write_video(
        folder / "late.mp4", iter(frames), audio=np.concatenate([np.zeros(24_000, np.float32), sound])
    )
    template = [float(x) for x in embed(frames[10], detect(frames[10])[0])]
    return original, late, EnrolledPerson("c-9", "Dr. Grid", face_embeddings=[template])


def test_speech_dubbed_half_a_second_late_is_out_of_sync_and_the_original_is_not(
    grid_clip: tuple[Path, Path, EnrolledPerson],
) -> None:
    original, late, _ = grid_clip

    def lip_sync(path: Path) -> float:
        result = scan(ScanSpec(path=path, analyzers=frozenset({Analyzer.LIP_SYNC})))
        found = result.result(Analyzer.LIP_SYNC)
        assert found is not None and not found.skipped
        return found.score

    assert lip_sync(original) < 0.5 <= lip_sync(late)


def test_a_genuine_clip_of_a_clinician_is_origin_unverified_and_its_dub_a_suspected_deepfake_of_them(
    grid_clip: tuple[Path, Path, EnrolledPerson],
) -> None:
    original, late, clinician = grid_clip
    visual = frozenset(
        {
            Analyzer.FACE_IDENTITY,
            Analyzer.VISUAL_MANIPULATION,
            Analyzer.LIP_SYNC,
            Analyzer.IDENTITY_DRIFT,
            Analyzer.BLENDING_FLICKER,
        }
    )

    def verdict(path: Path) -> Verdict:
        result = scan(ScanSpec(path=path, analyzers=visual, gallery=(clinician,)))
        return verdict_from(result.results, ProvenanceState.NONE)

    genuine, dubbed = verdict(original), verdict(late)

    assert genuine.kind is VerdictKind.CLINICIAN_UNVERIFIED, genuine.explanation
    assert dubbed.kind is VerdictKind.SUSPECTED_DEEPFAKE, dubbed.explanation
    assert dubbed.headline == "suspected unauthorized deepfake of Dr. Grid"
    assert Analyzer.LIP_SYNC in dubbed.manipulation_flags
