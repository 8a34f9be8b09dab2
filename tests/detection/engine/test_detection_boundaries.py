"""The detection engine stays a framework-free library with small committed models and cited accuracy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import detection.engine
from detection.engine import Analyzer, accuracy_of

ENGINE = Path(detection.engine.__file__).parent
FRAMEWORKS = ("django", "celery", "channels", "rest_framework", "daphne")


def test_no_engine_module_imports_a_web_or_task_framework() -> None:
    for source in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] in FRAMEWORKS], (source.name, names)


def test_importing_the_engine_loads_no_heavy_libraries() -> None:
    code = (
        "import sys; import detection.engine; "
        "print(sorted(m for m in ('dlib', 'torch', 'av', 'cv2', 'librosa', 'c2pa') if m in sys.modules))"
    )
    root = ENGINE.parent.parent
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{root / 'platform'}:{root}"},
    ).stdout
    assert output.strip() == "[]"


def test_the_trained_models_are_committed_and_small() -> None:
    for name in ("manipulation.pt", "synthetic_speech.pt"):
        weights = ENGINE / "weights" / name
        assert weights.is_file(), name
        assert weights.stat().st_size < 2_000_000, name


def test_every_analyzer_cites_a_measured_accuracy_on_named_data() -> None:
    for analyzer in Analyzer:
        accuracy = accuracy_of(analyzer)
        assert accuracy is not None, analyzer
        assert accuracy.data and accuracy.summary and accuracy.command, analyzer
        assert "detection_accuracy.py" in accuracy.command
