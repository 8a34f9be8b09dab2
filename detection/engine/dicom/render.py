"""Server-side rendering of one frame as PNG: modality rescale, window centre/width, changed regions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset

from detection.engine.dicom.reader import quiet


@dataclass(frozen=True)
class Window:
    center: float
    width: float


def _number(value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        if isinstance(value, (list, tuple)) or hasattr(value, "__getitem__") and not isinstance(value, str):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return default


def modality_values(frame: npt.NDArray[Any], ds: Dataset | None) -> npt.NDArray[np.float64]:
    """Stored values → modality values (e.g. Hounsfield units) by Rescale Slope and Intercept."""
    slope = _number(ds.get("RescaleSlope") if ds is not None else None, 1.0)
    intercept = _number(ds.get("RescaleIntercept") if ds is not None else None, 0.0)
    return frame.astype(np.float64) * slope + intercept


@quiet
def default_window(frame: npt.NDArray[Any], ds: Dataset | None) -> Window:
    """The file's first Window Center/Width, or the frame's 1st–99th percentile range."""
    if ds is not None and ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        width = _number(ds.get("WindowWidth"), 0.0)
        if width > 0:
            return Window(_number(ds.get("WindowCenter"), 0.0), width)
    values = modality_values(frame, ds)
    low, high = np.percentile(values, [1, 99]) if values.size else (0.0, 1.0)
    return Window(float(low + high) / 2, max(1.0, float(high - low)))


@quiet
def render_png(
    frame: npt.NDArray[Any],
    ds: Dataset | None,
    window: Window | None = None,
    regions: Sequence[tuple[int, int, int, int]] = (),
    heat: npt.NDArray[np.float32] | None = None,
) -> bytes:
    """A frame as PNG; grey frames windowed (DICOM linear VOI), colour frames as stored; changed
    regions outlined in red; a heatmap in [0, 1] (same height and width) blended in red."""
    if frame.ndim == 3:
        rgb = frame.astype(np.float64)
        top = float(rgb.max()) or 1.0
        image = Image.fromarray(np.clip(rgb * (255.0 / max(255.0, top)), 0, 255).astype(np.uint8), "RGB")
    else:
        window = window or default_window(frame, ds)
        values = modality_values(frame, ds)
        low = window.center - 0.5 - (window.width - 1) / 2
        scaled = (values - low) / max(window.width - 1, 1.0) * 255.0
        grey = np.clip(scaled, 0, 255).astype(np.uint8)
        if ds is not None and str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
            grey = 255 - grey
        image = Image.fromarray(grey, "L")
    if heat is not None and heat.shape == (image.height, image.width):
        base = np.asarray(image.convert("RGB"), dtype=np.float64)
        alpha = np.clip(heat.astype(np.float64), 0.0, 1.0)[..., None] * 0.6
        red = np.array([255.0, 0.0, 0.0])
        image = Image.fromarray(np.clip(base * (1 - alpha) + red * alpha, 0, 255).astype(np.uint8), "RGB")
    if regions:
        image = image.convert("RGB")
        draw = ImageDraw.Draw(image)
        for top_row, left, bottom, right in regions:
            draw.rectangle([left, top_row, right - 1, bottom - 1], outline=(255, 40, 40), width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
