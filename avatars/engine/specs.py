"""What a render is asked to do (specs in) and what it produced (results out).

Plain frozen dataclasses with paths and primitives only, so the Celery task can build them from
database rows and the engine never needs to know about Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: `progress(fraction, stage)`: fraction in [0, 1], stage a short machine-readable word. It may raise
#: `RenderCancelled` to stop the render (for example when consent is revoked mid-render).
Progress = Callable[[float, str], None]


class FrameMarker(Protocol):
    """Marks pictures just before they are encoded (the platform's invisible watermark).

    The render hands every finished video frame (label and captions already on) to `mark_frame`,
    in order, and the poster to `mark_poster`, and encodes what they return: the published file
    is encoded once. The engine knows nothing of what the mark is; the caller supplies it.
    """

    def mark_frame(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The next video frame, marked (same shape and type)."""
        ...

    def mark_poster(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The poster picture, marked (same shape and type)."""
        ...


@dataclass(frozen=True)
class StockAvatar:
    """The engine's own drawn presenter; depicts no real person (demo, tests, no-likeness videos)."""

    mode = "stock"


@dataclass(frozen=True)
class FootageAvatar:
    """The clinician's consented enrollment footage (a talking-to-camera video with audio).

    `analysis` is the stored result of `analyze_enrollment` for that footage (an `.npz`); when
    given, the render reuses it instead of analysing the footage again.
    """

    enrollment: Path
    analysis: Path | None = None
    mode = "footage"


@dataclass(frozen=True)
class PortraitAvatar:
    """One consented portrait photo, animated by landmark-driven warping."""

    photo: Path
    mode = "portrait"


@dataclass(frozen=True)
class NeuralAvatar:
    """A per-clinician model trained only on that clinician's enrollment footage (torch)."""

    model: Path
    device: str = "cpu"
    mode = "neural"


Avatar = StockAvatar | FootageAvatar | PortraitAvatar | NeuralAvatar


@dataclass(frozen=True)
class ScriptNarration:
    """A script spoken by the offline synthetic voice (only where consent allows a synthetic voice)."""

    text: str
    language: str = "en"
    words_per_minute: int = 150


@dataclass(frozen=True)
class RecordedNarration:
    """The clinician's own recorded narration.

    With `script` (what the recording says) the recording is aligned to it: mouth shapes follow
    its phonemes and captions its words. Without it, the mouth follows the speech energy and only
    the spoken disclaimers are captioned. `language` is the script's and the disclaimers' language.
    """

    audio: Path
    language: str = "en"
    script: str | None = None


Narration = ScriptNarration | RecordedNarration


@dataclass(frozen=True)
class Disclosure:
    """The three parts of disclosure the engine owns: visible label and spoken start/end disclaimers.

    `intro` and `outro` are either text (spoken by the synthetic voice in the narration's language)
    or a path to recorded audio. None of them can be left out.
    """

    label: str
    intro: str | Path
    outro: str | Path


@dataclass(frozen=True)
class RenderSpec:
    """One render: who appears, what is said, how it is disclosed, where outputs go."""

    avatar: Avatar
    narration: Narration
    disclosure: Disclosure
    output_dir: Path
    basename: str = "render"
    width: int = 1280
    height: int = 720
    fps: int = 25
    burn_captions: bool = False
    crf: int = 23
    preset: str = "veryfast"
    seed: int = 7


@dataclass(frozen=True)
class RenderResult:
    """Outputs of a finished render and what is known about them."""

    video: Path
    captions: Path
    poster: Path
    mode: str
    duration: float
    frame_count: int
    width: int
    height: int
    fps: int
    synthetic_voice: bool
    narration_start: float
    narration_end: float
    label: str
    timings: dict[str, float] = field(default_factory=dict)
