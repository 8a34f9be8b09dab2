"""Where the shared real test media is: `../shared/media` beside the checkout, or the folder named by
CANDOR_SHARED_MEDIA. It is internal evaluation data, never copied into the project; tests that need
it skip with HOW_TO_PROVIDE in their reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_MEDIA = Path(
    os.environ.get("CANDOR_SHARED_MEDIA") or Path(__file__).resolve().parents[2] / "shared" / "media"
)
HOW_TO_PROVIDE = "put ../shared/media beside the checkout or set CANDOR_SHARED_MEDIA to its folder"


def skip_reason_with_how_to(message: str) -> str:
    """A skip reason about missing media, with how to provide the media appended (once)."""
    if SHARED_MEDIA.is_dir() or HOW_TO_PROVIDE in message:
        return message
    words = message.lower()
    if any(
        hint in words for hint in ("shared/media", "absent", "not present", "not found", str(SHARED_MEDIA))
    ):
        return f"{message} ({HOW_TO_PROVIDE})"
    return message
