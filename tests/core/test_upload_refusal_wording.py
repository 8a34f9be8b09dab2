"""Issue 15 item 17: a refused video upload listed images and audio as accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import ApplicationError
from core.uploads import upload_check


@pytest.mark.parametrize(
    "kinds,named,unnamed",
    [
        ({"video"}, "MP4", ("JPEG", "WAV")),
        ({"audio"}, "WAV", ("MP4", "JPEG")),
        ({"image"}, "JPEG", ("MP4", "WAV")),
    ],
)
def test_an_unknown_file_is_refused_naming_only_the_formats_this_page_takes(
    tmp_path: Path, kinds: set[str], named: str, unnamed: tuple[str, ...]
) -> None:
    with pytest.raises(ApplicationError) as refused:
        upload_check(
            file=SimpleUploadedFile("notes.mp4", b"just some text, no media"), kinds=kinds, scratch=tmp_path
        )
    assert refused.value.status == 415
    assert named in refused.value.message
    assert not any(other in refused.value.message for other in unnamed)
