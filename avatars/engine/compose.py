"""Compositing over rendered frames: the disclosure label, burned-in captions and the poster.

The label is applied by the render loop to every frame unconditionally; there is deliberately no
parameter anywhere that skips it (SPEC §2.3: disclosure for the whole duration of the video).
Overlays are rasterized once with Pillow and alpha-blended into a small region per frame, which
costs about a millisecond at 720p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from avatars.engine.captions import Cue
from avatars.engine.errors import InvalidSpecError

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
)
#: Label text height as a share of frame height: 5% is larger than typical broadcast subtitles,
#: so it stays legible when a landscape video plays inline on a phone held upright.
LABEL_TEXT_SHARE = 0.05
LABEL_MIN_SHARE = 0.036
CAPTION_TEXT_SHARE = 0.048
MIN_TEXT_PIXELS = 10
LABEL_MAX_LINES = 2


FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=32)
def _font(size: int) -> FontType:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    # Pillow ≥ 10.1 embeds a scalable font, so a bare container still renders readable text.
    return ImageFont.load_default(size=size)


def _wrap(text: str, font: FontType, max_width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}".strip()
            if font.getlength(candidate) <= max_width or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
    return lines


@dataclass(frozen=True)
class Overlay:
    """A pre-rendered RGBA patch and where it goes: blend with `apply`."""

    x: int
    y: int
    rgb: NDArray[np.float32]
    alpha: NDArray[np.float32]

    def __post_init__(self) -> None:
        # Blending in 16-bit integers with the colour premultiplied by alpha avoids float temporaries
        # (about 1.0 against 1.3 ms per 720p frame) and is exact to one grey level.
        weight = np.round(self.alpha * 256).astype(np.uint16)
        object.__setattr__(self, "_keep", (256 - weight).astype(np.uint16))
        object.__setattr__(self, "_add", np.round(self.rgb * weight + 128).astype(np.uint16))

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def apply(self, frame: NDArray[np.uint8]) -> None:
        """Blend the overlay into `frame` in place."""
        region = frame[self.y : self.y + self.height, self.x : self.x + self.width]
        keep: NDArray[np.uint16] = self._keep  # type: ignore[attr-defined]
        add: NDArray[np.uint16] = self._add  # type: ignore[attr-defined]
        region[...] = ((region * keep + add) >> 8).astype(np.uint8)


def _text_box(
    lines: Sequence[str], font: FontType, padding: int, *, box_alpha: float, accent: bool
) -> Image.Image:
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (11, 0)
    line_height = ascent + descent
    text_width = max(int(font.getlength(line)) for line in lines)
    accent_width = max(3, padding // 3) if accent else 0
    width = text_width + 2 * padding + accent_width
    height = line_height * len(lines) + 2 * padding
    box = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle(
        (0, 0, width - 1, height - 1), radius=padding, fill=(16, 20, 28, int(255 * box_alpha))
    )
    if accent:
        # An amber bar marks the box as a disclosure, distinct from captions even without reading it.
        draw.rectangle((0, padding // 2, accent_width - 1, height - padding // 2), fill=(255, 184, 28, 255))
    for index, line in enumerate(lines):
        draw.text(
            (padding + accent_width, padding + index * line_height),
            line,
            font=font,
            fill=(255, 255, 255, 255),
        )
    return box


def _overlay(image: Image.Image, x: int, y: int) -> Overlay:
    data = np.asarray(image, dtype=np.float32)
    return Overlay(x=x, y=y, rgb=data[..., :3].copy(), alpha=(data[..., 3:4] / 255.0).copy())


def disclosure_overlay(text: str, width: int, height: int) -> Overlay:
    """The visible disclosure label for a frame size: top-left, opaque box, large white text.

    Raises `InvalidSpecError` for an empty label or one too long to stay legible.
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidSpecError(
            "The disclosure label is empty. Every synthetic video must show that it is synthetic and how "
            "to reach a human, e.g. 'AI-generated video of Dr. Lee, with consent. Questions: 555-0100'.",
            code="label_empty",
        )
    margin = max(2, round(height * 0.025))
    max_width = width - 2 * margin
    share = LABEL_TEXT_SHARE
    while True:
        size = max(MIN_TEXT_PIXELS, round(height * share))
        font = _font(size)
        padding = max(2, size // 3)
        lines = _wrap(cleaned, font, max_width - 2 * padding - max(3, padding // 3))
        fits = len(lines) <= LABEL_MAX_LINES and all(font.getlength(line) <= max_width for line in lines)
        if fits:
            break
        if share <= LABEL_MIN_SHARE or size == MIN_TEXT_PIXELS:
            raise InvalidSpecError(
                f"The disclosure label is too long to stay readable on a phone ({len(cleaned)} characters); "
                f"shorten it to fit {LABEL_MAX_LINES} lines at this video size.",
                code="label_too_long",
            )
        share -= 0.004
    box = _text_box(lines, font, padding, box_alpha=0.88, accent=True)
    return _overlay(box, margin, margin)


class CaptionBurner:
    """Burns caption cues into frames, bottom centre; each cue is rasterized once."""

    def __init__(self, cues: Sequence[Cue], width: int, height: int) -> None:
        self._cues = sorted(cues, key=lambda cue: cue.start)
        self._width = width
        self._height = height
        self._cache: dict[int, Overlay] = {}
        self._cursor = 0

    def _overlay_for(self, index: int) -> Overlay:
        if index not in self._cache:
            size = max(MIN_TEXT_PIXELS, round(self._height * CAPTION_TEXT_SHARE))
            font = _font(size)
            padding = max(2, size // 4)
            margin = max(2, round(self._height * 0.04))
            lines = _wrap(self._cues[index].text, font, int(self._width * 0.86) - 2 * padding)
            box = _text_box(lines, font, padding, box_alpha=0.72, accent=False)
            if box.width > self._width or box.height > self._height // 3:
                box = box.resize((min(box.width, self._width), min(box.height, self._height // 3)))
            self._cache = {
                index: _overlay(box, (self._width - box.width) // 2, self._height - margin - box.height)
            }
        return self._cache[index]

    def apply(self, frame: NDArray[np.uint8], time: float) -> None:
        """Burn the cue showing at `time` seconds, if any (times must not go backwards)."""
        # Frames arrive in order, so a cursor makes this O(1) per frame for any number of cues.
        while self._cursor < len(self._cues) and self._cues[self._cursor].end <= time:
            self._cursor += 1
        if self._cursor < len(self._cues) and self._cues[self._cursor].start <= time:
            self._overlay_for(self._cursor).apply(frame)


def write_poster(frame: NDArray[np.uint8], path: Path, *, quality: int = 88) -> None:
    """Save an RGB frame as the video's poster JPEG (it carries the label like every frame)."""
    Image.fromarray(frame).save(path, format="JPEG", quality=quality, optimize=True)


# --- Mouth-and-jaw composite (footage mode) ----------------------------------------------------


def mouth_mask(
    width: int, height: int, *, left: float, top: float, units: float
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Where a canonical mouth patch replaces the face: (binary mask, soft weight), patch-sized.

    Drawn in face units (outer-eye-corner distance = `units` pixels; the patch's top-left corner
    is at face coordinates (`left`, `top`)): from just under the nose (0.62) to below the chin of an
    open mouth (1.58), 0.45 to each side at the mouth, narrowing towards the chin inside the jaw
    line of a slim face, so the mask stays on skin rather than the background beside the jaw. The
    whole chin lies inside, so the base frame's chin never shows beside the new one. The soft
    weight is 1 in the core and falls to 0 at the binary edge.
    """
    import cv2

    def point(x: float, y: float) -> tuple[int, int]:
        return int(round((x - left) * units * 8)), int(round((y - top) * units * 8))

    binary = np.zeros((height, width), dtype=np.uint8)
    # Outline with 3 bits of sub-pixel precision (shift=3): cheek under the nose, round the jaw.
    outline = [
        (-0.32, 0.62), (0.32, 0.62), (0.42, 0.72), (0.45, 0.9), (0.42, 1.1), (0.34, 1.3), (0.22, 1.48),
        (0.0, 1.58), (-0.22, 1.48), (-0.34, 1.3), (-0.42, 1.1), (-0.45, 0.9), (-0.42, 0.72),
    ]  # fmt: skip
    cv2.fillPoly(binary, [np.array([point(x, y) for x, y in outline], dtype=np.int32)], 255, cv2.LINE_8, 3)
    binary[:2], binary[-2:], binary[:, :2], binary[:, -2:] = 0, 0, 0, 0
    feather = max(1.0, 0.07 * units)
    core = cv2.erode(binary, np.ones((3, 3), np.uint8), iterations=max(1, int(round(1.2 * feather))))
    soft = cv2.GaussianBlur(core.astype(np.float32) / 255.0, (0, 0), feather)
    soft = np.minimum(soft * 1.15, 1.0) * (binary > 0)
    return binary, np.asarray(soft, dtype=np.float32)


#: The Poisson correction is solved on the mask's box shrunk to at most this many pixels a side: the
#: correction (what the cloned pixels add to the source's) is smooth inside the mask, so a coarse
#: solution upsampled loses nothing visible and costs about a twentieth at 720p.
POISSON_SIDE = 96


def blend_seamless(
    region: NDArray[np.uint8], source: NDArray[np.uint8], binary: NDArray[np.uint8], soft: NDArray[np.float32]
) -> None:
    """Put `source` into `region` (same size, in place) where `binary` is set, without a seam.

    Gradient-domain (Poisson) cloning (Pérez et al. 2003, `cv2.seamlessClone`) keeps the source's
    detail but takes its colour and light level from the region's own pixels at the mask's edge, so
    a mouth from a frame with other lighting fits; the result is then mixed in with the soft
    weight, so even the Poisson edge is not a line. Falls back to colour-matched feathering where
    the mask is too small or touches the region's border.
    """
    import cv2

    ys, xs = np.nonzero(binary)
    if len(xs) < 16:
        return
    height, width = binary.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    inner = x0 >= 2 and y0 >= 2 and x1 < width - 2 and y1 < height - 2 and x1 - x0 >= 8 and y1 - y0 >= 8
    blended = source
    if inner:
        try:
            blended = _poisson(region, source, binary)
        except cv2.error:
            inner = False
    if not inner:
        ring = (soft > 0.05) & (soft < 0.6)
        if ring.sum() > 8:
            shift = region[ring].mean(axis=0) - source[ring].mean(axis=0)
            blended = np.clip(source + np.round(shift).astype(np.int16), 0, 255).astype(np.uint8)
    region[...] = cv2.blendLinear(blended, region, soft, np.float32(1.0) - soft)


def _poisson(
    region: NDArray[np.uint8], source: NDArray[np.uint8], binary: NDArray[np.uint8]
) -> NDArray[np.uint8]:
    """`source` with the Poisson correction that makes it meet `region` along the mask's edge."""
    import cv2

    height, width = binary.shape
    factor = min(1.0, POISSON_SIDE / max(height, width))
    if factor < 1.0:
        size = (max(8, int(round(width * factor))), max(8, int(round(height * factor))))
        small_region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        small_source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(binary, size, interpolation=cv2.INTER_NEAREST)
    else:
        small_region, small_source, small_mask = region, source, binary.copy()
    small_mask[:2], small_mask[-2:], small_mask[:, :2], small_mask[:, -2:] = 0, 0, 0, 0
    ys, xs = np.nonzero(small_mask)
    if len(xs) < 16:
        raise cv2.error("mask too small")
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    # The correction interpolates the difference between the two pictures along the mask's edge.
    # Where the edge crosses a structure that differs (the jaw line of a turned head, a collar),
    # that difference is an outlier that would tint the whole mouth: it is clipped to the edge's
    # typical difference first (median ± 1.5 robust deviations per channel).
    kernel = np.ones((3, 3), np.uint8)
    ring = (cv2.dilate(small_mask, kernel, iterations=2) > 0) & (
        cv2.erode(small_mask, kernel, iterations=2) == 0
    )
    difference = small_region.astype(np.float32) - small_source.astype(np.float32)
    edge = difference[ring]
    median = np.median(edge, axis=0)
    spread = 1.4826 * np.median(np.abs(edge - median), axis=0) + 2.0
    clipped = np.clip(difference, median - 1.5 * spread, median + 1.5 * spread)
    robust = small_region.copy()
    robust[ring] = np.clip(small_source.astype(np.float32) + clipped, 0, 255).astype(np.uint8)[ring]
    # OpenCV places the mask's bounding box centred on `centre`: the centre of that same box.
    centre = (x0 + (x1 - x0 + 1) // 2, y0 + (y1 - y0 + 1) // 2)
    cloned = cv2.seamlessClone(small_source, robust, small_mask, centre, cv2.NORMAL_CLONE)
    correction = cloned.astype(np.float32) - small_source.astype(np.float32)
    if factor < 1.0:
        correction = np.asarray(
            cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
        )
    return np.asarray(np.clip(source.astype(np.float32) + correction, 0, 255), dtype=np.uint8)
