"""Visual manipulation: the face-forgery model on sampled faces, with a heatmap per evidence frame.

`FaceForgeryNet` (see `nets.py`) was trained here, on CPU, from real faces only: self-blended
images (`sbi.py`) are its fakes (`python -m detection.engine.train_manipulation`). Its weights,
its calibration (Platt scaling of the logit, fitted on held-out real and self-blended faces) and
its decision threshold (the 99th percentile of held-out real faces' scores, 1 % false alarms per
frame) travel together in `weights/manipulation.pt`.

A video's score is the mean of its sampled frames' scores (the most suspicious face of each
frame); the frames that score highest become evidence, each with the model's boundary map as a
heatmap drawn over the face.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine.errors import AnalyzerUnavailable
from detection.engine.faces import CROP_SIZE, Face, face_crop
from detection.engine.results import Analyzer, AnalyzerResult, Evidence, TimeRange, clamp01
from detection.engine.threads import inference_threads

WEIGHTS = Path(__file__).resolve().parent / "weights" / "manipulation.pt"


@dataclass(frozen=True)
class CropScore:
    """The model's verdict on one face crop: calibrated score, raw logit and boundary heatmap."""

    score: float
    logit: float
    heatmap: NDArray[np.float32]


class ForgeryModel:
    """The trained network with its calibration, loaded once per process."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        try:
            import torch

            from detection.engine.nets import FaceForgeryNet
        except ImportError as exc:
            raise AnalyzerUnavailable(
                "The manipulation model needs torch, which is not installed on this server.",
                code="torch_unavailable",
            ) from exc
        if not path.is_file():
            raise AnalyzerUnavailable(
                f"The manipulation model's weights are missing ({path.name}); run "
                "`python -m detection.engine.train_manipulation` to make them.",
                code="weights_missing",
            )
        bundle = torch.load(path, map_location="cpu", weights_only=True)
        self.net = FaceForgeryNet()
        self.net.load_state_dict({k: v.float() for k, v in bundle["state_dict"].items()})
        self.net.eval()
        self.scale = float(bundle["calibration"]["scale"])
        self.bias = float(bundle["calibration"]["bias"])
        self.threshold = float(bundle["threshold"])
        self.meta: dict[str, Any] = dict(bundle.get("meta", {}))
        self._torch = torch

    def score(self, crops: list[NDArray[np.uint8]]) -> list[CropScore]:
        """Score RGB face crops of `CROP_SIZE` (as made by `faces.face_crop`)."""
        if not crops:
            return []
        torch = self._torch
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
        with torch.inference_mode(), inference_threads():
            logits, maps = self.net(batch)
        out: list[CropScore] = []
        for logit, boundary in zip(logits.tolist(), torch.sigmoid(maps).numpy(), strict=True):
            score = 1.0 / (1.0 + np.exp(-(self.scale * logit + self.bias)))
            out.append(CropScore(float(score), float(logit), np.asarray(boundary, dtype=np.float32)))
        return out


_model: ForgeryModel | None = None
_model_lock = threading.Lock()


def forgery_model() -> ForgeryModel:
    """The process-wide model (loading costs about 50 ms; scoring a face about 5 ms)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = ForgeryModel()
        return _model


def heatmap_png(crop: NDArray[np.uint8], heatmap: NDArray[np.float32]) -> bytes:
    """The face crop with the heatmap blended over it in red, as PNG bytes."""
    import cv2
    from PIL import Image

    size = crop.shape[1], crop.shape[0]
    heat = cv2.resize(heatmap, size, interpolation=cv2.INTER_CUBIC).clip(0, 1)[..., None]
    colour = np.array([255, 40, 0], np.float32)
    picture = crop.astype(np.float32) * (1 - 0.55 * heat) + colour * 0.55 * heat
    buffer = io.BytesIO()
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class _Candidate:
    score: float
    time: float
    index: int
    crop: NDArray[np.uint8]
    heatmap: NDArray[np.float32]


@dataclass
class ManipulationTracker:
    """Collects per-frame forgery scores during a scan and keeps the top frames as evidence."""

    evidence_frames: int = 3
    interval: float = 0.5
    timeline: list[tuple[float, float]] = field(default_factory=list)
    _top: list[_Candidate] = field(default_factory=list)
    faces_scored: int = 0
    whole_picture: bool = False

    def add(self, rgb: NDArray[np.uint8], faces: list[Face], *, time: float, index: int) -> None:
        """Score the faces of one sampled frame (the most suspicious one counts for the frame)."""
        if faces:
            self._add([face_crop(rgb, face.box)[0] for face in faces], time, index)

    def add_whole(self, rgb: NDArray[np.uint8], *, time: float, index: int) -> None:
        """Score a whole picture as one face crop: a photo where no face was detected is often
        a face cropped too tightly for the detector (as the DFDC crops are)."""
        import cv2

        self.whole_picture = True
        self._add(
            [
                np.asarray(
                    cv2.resize(rgb, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA), dtype=np.uint8
                )
            ],
            time,
            index,
        )

    def _add(self, crops: list[NDArray[np.uint8]], time: float, index: int) -> None:
        scores = forgery_model().score(crops)
        self.faces_scored += len(scores)
        best = max(range(len(scores)), key=lambda i: scores[i].score)
        self.timeline.append((time, scores[best].score))
        self._top.append(_Candidate(scores[best].score, time, index, crops[best], scores[best].heatmap))
        self._top.sort(key=lambda c: c.score, reverse=True)
        del self._top[self.evidence_frames :]

    def result(self) -> AnalyzerResult:
        """The video's (or image's) manipulation score with heatmap evidence."""
        from detection.engine.accuracy import accuracy_of

        model = forgery_model()
        if not self.timeline:
            return AnalyzerResult(
                Analyzer.VISUAL_MANIPULATION.value,
                0.0,
                True,
                model.threshold,
                accuracy=accuracy_of(Analyzer.VISUAL_MANIPULATION),
                skipped="No face was found to examine.",
            )
        scores = np.array([s for _, s in self.timeline])
        score = clamp01(float(scores.mean()))
        evidence = tuple(
            Evidence(
                note=(
                    f"Face at {c.time:.1f} s scored {c.score:.2f} for blending traces (threshold "
                    f"{model.threshold:.2f}); red marks where the model sees a blending edge."
                ),
                time_range=TimeRange(c.time, c.time + self.interval),
                frame_index=c.index,
                score=c.score,
                heatmap=c.heatmap,
                image_png=heatmap_png(c.crop, c.heatmap),
            )
            for c in self._top
        )
        return AnalyzerResult(
            Analyzer.VISUAL_MANIPULATION.value,
            score,
            True,
            model.threshold,
            evidence=evidence,
            accuracy=accuracy_of(Analyzer.VISUAL_MANIPULATION),
            timeline=tuple(self.timeline),
            details={
                "frames": len(self.timeline),
                "faces_scored": self.faces_scored,
                "max_frame_score": float(scores.max()),
                "share_of_frames_flagged": float((scores >= model.threshold).mean()),
                "whole_picture": self.whole_picture,
            },
        )


def score_image_faces(rgb: NDArray[np.uint8], faces: list[Face]) -> list[CropScore]:
    """Scores of every face in a picture; with no face found, of the whole picture as one crop."""
    import cv2

    model = forgery_model()
    if faces:
        return model.score([face_crop(rgb, face.box)[0] for face in faces])
    whole = cv2.resize(rgb, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    return model.score([np.asarray(whole, dtype=np.uint8)])
