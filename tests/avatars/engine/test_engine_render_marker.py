"""A frame marker (the platform's watermark) sees every frame before the one encode of a render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

import core.media.mp4
from avatars.engine import Disclosure, RenderSpec, ScriptNarration, StockAvatar, render
from avatars.engine.media import iter_video_frames


class _CornerMarker:
    """Paints a white square into each frame's top-left corner and a black one into the poster's."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.posters = 0

    def mark_frame(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        self.frames.append(len(self.frames))
        marked = rgb.copy()
        marked[:16, :16] = 255
        return marked

    def mark_poster(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        self.posters += 1
        marked = rgb.copy()
        marked[:16, :16] = 0
        return marked


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every MP4 encoder opened while the test runs (the path it writes)."""
    opened: list[Path] = []
    original = core.media.mp4.Mp4Writer

    class CountingWriter(original):  # type: ignore[misc, valid-type]
        def __init__(self, path: Any, **options: Any) -> None:
            opened.append(Path(path))
            super().__init__(path, **options)

    monkeypatch.setattr(core.media.mp4, "Mp4Writer", CountingWriter)
    return opened


def _render(folder: Path, disclosure: Disclosure, marker: _CornerMarker | None) -> Any:
    return render(
        RenderSpec(
            avatar=StockAvatar(),
            narration=ScriptNarration("Take one tablet every morning."),
            disclosure=disclosure,
            output_dir=folder,
            width=256,
            height=144,
        ),
        marker=marker,
    )


def test_every_frame_is_marked_once_in_order_and_encoded_once(
    tmp_path: Path, disclosure: Disclosure, encodes: list[Path]
) -> None:
    marker = _CornerMarker()
    result = _render(tmp_path, disclosure, marker)
    assert marker.frames == list(range(result.frame_count))
    assert len(encodes) == 1
    decoded = list(iter_video_frames(result.video))
    assert len(decoded) == result.frame_count
    assert all(frame[2:14, 2:14].mean() > 230 for frame in decoded)


def test_the_poster_carries_its_own_mark_not_the_video_frames(tmp_path: Path, disclosure: Disclosure) -> None:
    marker = _CornerMarker()
    result = _render(tmp_path, disclosure, marker)
    assert marker.posters == 1
    with Image.open(result.poster) as poster:
        corner = np.asarray(poster.convert("L"))[2:14, 2:14]
    assert corner.mean() < 25


def test_without_a_marker_the_frames_are_left_as_drawn(tmp_path: Path, disclosure: Disclosure) -> None:
    result = _render(tmp_path, disclosure, None)
    first = next(iter(iter_video_frames(result.video)))
    assert first[2:14, 2:14].mean() < 200
