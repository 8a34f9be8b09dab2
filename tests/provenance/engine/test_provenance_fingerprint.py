"""The perceptual fingerprint and its index."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from provenance_media import SHARED_MEDIA, textured_frames, write_mp4

from provenance.engine import fingerprint as fp
from provenance.engine.media_io import transcode


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[fp.FingerprintIndex, list[Path]]:
    folder = tmp_path_factory.mktemp("fp")
    index = fp.FingerprintIndex()
    videos = []
    for seed in range(4):
        path = write_mp4(folder / f"v{seed}.mp4", textured_frames(seconds=6.0, seed=20 + seed))
        index.add(f"video-{seed}", fp.fingerprint_video(path))
        videos.append(path)
    return index, videos


def test_a_reencoded_resized_cropped_and_shortened_copy_matches_its_original(
    registry: tuple[fp.FingerprintIndex, list[Path]], tmp_path: Path
) -> None:
    index, videos = registry
    copy = transcode(
        videos[2], tmp_path / "copy.mp4", crf=30, scale=0.5, crop=0.15, start_seconds=1.5, max_seconds=3.0
    )

    match = index.match(fp.fingerprint_video(copy, for_query=True))

    assert match is not None
    assert match.video_id == "video-2"
    assert match.offset_seconds == pytest.approx(1.5, abs=0.5)


def test_an_unrelated_video_matches_nothing(
    registry: tuple[fp.FingerprintIndex, list[Path]], tmp_path: Path
) -> None:
    index, _ = registry
    stranger = write_mp4(tmp_path / "stranger.mp4", textured_frames(seconds=4.0, seed=99))

    assert index.match(fp.fingerprint_video(stranger, for_query=True)) is None


def test_the_index_survives_a_save_and_load(
    registry: tuple[fp.FingerprintIndex, list[Path]], tmp_path: Path
) -> None:
    index, videos = registry
    index.save(tmp_path / "index.npz")
    loaded = fp.FingerprintIndex.load(tmp_path / "index.npz")

    match = loaded.match(fp.fingerprint_video(videos[1], for_query=True))

    assert len(loaded) == len(index)
    assert match is not None and match.video_id == "video-1"


def test_a_lookup_among_100000_videos_takes_well_under_a_second(
    registry: tuple[fp.FingerprintIndex, list[Path]],
) -> None:
    _, videos = registry
    rng = np.random.default_rng(0)
    per_video, n_videos = 30, 100_000
    index = fp.FingerprintIndex()
    index.add_many(
        [f"noise-{i}" for i in range(n_videos)],
        rng.integers(0, 2**63, (n_videos * per_video, 2), dtype=np.uint64),
        np.repeat(np.arange(n_videos, dtype=np.int32), per_video),
    )
    index.add("needle", fp.fingerprint_video(videos[0]))
    query = fp.fingerprint_video(videos[0], for_query=True)
    index.match(query)  # the first call compacts the arrays

    started = time.perf_counter()
    match = index.match(query)
    elapsed = time.perf_counter() - started

    assert match is not None and match.video_id == "needle"
    assert elapsed < 1.0


GRID = SHARED_MEDIA / "talking" / "grid"


@pytest.mark.media
@pytest.mark.skipif(not GRID.is_dir(), reason=f"GRID clips not found at {GRID}")
def test_other_people_filmed_in_the_same_studio_do_not_match(tmp_path: Path) -> None:
    # The GRID corpus: one blue studio, one framing, different speakers; like one clinic's room.
    clips = sorted(GRID.glob("*.mpg"))
    registered, others = clips[:6], clips[6:]
    index = fp.FingerprintIndex()
    for clip in registered:
        index.add(clip.name, fp.fingerprint_video(clip))

    wrong = [c.name for c in others if index.match(fp.fingerprint_video(c, for_query=True)) is not None]
    copy = transcode(registered[0], tmp_path / "copy.mp4", crf=28, scale=0.5, crop=0.1)
    match = index.match(fp.fingerprint_video(copy, for_query=True))

    assert wrong == []
    assert match is not None and match.video_id == registered[0].name
