"""dlib's face models, loaded once per process: the HOG detector with its 5-point landmark model,
and the 128-d face recognition model.

Both ship with `face-recognition-models` and run offline on a CPU. The 68-point landmark model is
deliberately never loaded here: its training data excludes commercial use (SPEC §6).
"""

from __future__ import annotations

import threading
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.media.errors import MediaError

if TYPE_CHECKING:
    from core.media.faces import Face


def _import_dlib(what: str) -> tuple[Any, ModuleType]:
    """dlib and `face_recognition_models`, or a `MediaError` naming what to install."""
    try:
        import dlib

        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, deprecated in recent setuptools.
            warnings.simplefilter("ignore")
            import face_recognition_models as models
    except ImportError as exc:
        raise MediaError(
            f"{what} is not installed on this server (dlib-bin and face-recognition-models); "
            "ask an administrator to install them.",
            code="faces_unavailable",
        ) from exc
    return dlib, models


class FaceDetector:
    """dlib's frontal face detector (`detector(image, upsample)`), its 5-point landmark model
    (`landmarks(image, rectangle)`) and dlib's rectangle type (`rectangle(left, top, right, bottom)`)."""

    def __init__(self) -> None:
        dlib, models = _import_dlib("Face analysis")
        self.detector: Any = dlib.get_frontal_face_detector()
        self.landmarks: Any = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self.rectangle: Any = dlib.rectangle


class FaceEncoder:
    """dlib's face recognition model: a 128-d embedding of a face found by `FaceDetector`."""

    def __init__(self) -> None:
        dlib, models = _import_dlib("Face matching")
        self._dlib: Any = dlib
        self._model: Any = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def embed(self, rgb: NDArray[np.uint8], face: Face) -> NDArray[np.float64]:
        """The 128-d embedding of `face` in the RGB frame `rgb`."""
        # The recognition model aligns its crop from the 5 landmarks the detector already found;
        # the 68-point model (no commercial use) is never involved.
        dlib = self._dlib
        shape = dlib.full_object_detection(
            dlib.rectangle(*face.box), [dlib.point(int(round(x)), int(round(y))) for x, y in face.points]
        )
        return np.asarray(self._model.compute_face_descriptor(rgb, shape), dtype=np.float64)


_lock = threading.Lock()
_detector: FaceDetector | None = None
_encoder: FaceEncoder | None = None


def face_detector() -> FaceDetector:
    """The process's one `FaceDetector`, loaded on first use (raises `MediaError` if dlib is missing)."""
    global _detector
    with _lock:
        if _detector is None:
            _detector = FaceDetector()
        return _detector


def face_encoder() -> FaceEncoder:
    """The process's one `FaceEncoder`, loaded on first use (raises `MediaError` if dlib is missing)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = FaceEncoder()
        return _encoder
