"""The shared model loaders: one per model family, cached once per process, reached by public names.

Runs without Django (`pytest -p no:django tests/core/media/test_media_loaders.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from core.media.loaders import dlib_faces, resemblyzer_voice

ROOT = Path(__file__).resolve().parents[3]
ENGINE_CODE = [
    *sorted((ROOT / "avatars" / "engine").rglob("*.py")),
    *sorted((ROOT / "detection" / "engine").rglob("*.py")),
    *sorted((ROOT / "provenance" / "engine").rglob("*.py")),
    *sorted((ROOT / "platform" / "core" / "media").rglob("*.py")),
]
PROJECT = ("avatars", "detection", "provenance", "consent", "core")


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT / "platform" if path.is_relative_to(ROOT / "platform") else ROOT)
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private_reaches(path: Path, own: str | None = None) -> list[str]:
    """`from other import _name` and `other_module._name` where `other` is another project module."""
    own = own or _module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: dict[str, str] = {}  # local alias -> project module it names
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
            for alias in node.names:
                if alias.name.startswith("_") and node.module != own:
                    found.append(f"{path.name}: from {node.module} import {alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and modules[node.value.id] != own
        ):
            found.append(f"{path.name}: {node.value.id}.{node.attr}")
    return found


def test_no_engine_reaches_into_another_modules_private_names() -> None:
    assert len(ENGINE_CODE) > 40
    reaches = [reach for path in ENGINE_CODE for reach in _private_reaches(path)]
    assert reaches == []


def test_the_private_name_check_finds_a_reach_into_another_module(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from avatars.engine import statement\n"
        "from core.media.faces import _get\n"
        "from core.media.loaders import dlib_faces as models\n"
        "statement._faces()\n"
        "models._detector\n"
    )
    assert sorted(_private_reaches(sample, own="avatars.engine.sample")) == [
        "sample.py: from core.media.faces import _get",
        "sample.py: models._detector",
        "sample.py: statement._faces",
    ]
    assert sorted(_private_reaches(sample, own="core.media.faces")) == [
        "sample.py: models._detector",
        "sample.py: statement._faces",
    ]


def test_each_dlib_model_is_loaded_once_per_process() -> None:
    assert dlib_faces.face_detector() is dlib_faces.face_detector()
    assert dlib_faces.face_encoder() is dlib_faces.face_encoder()


def test_the_voice_encoder_is_loaded_once_and_treats_hiss_as_silence() -> None:
    encoder = resemblyzer_voice.voice_encoder()
    assert encoder is resemblyzer_voice.voice_encoder()
    hiss = (np.random.default_rng(0).standard_normal(48_000) * 1e-5).astype(np.float32)
    assert resemblyzer_voice.is_silent(hiss) and resemblyzer_voice.is_silent(np.zeros(0, np.float32))
    assert len(encoder.speech(hiss)) == 0
    loud = (np.random.default_rng(0).standard_normal(48_000) * 0.1).astype(np.float32)
    assert not resemblyzer_voice.is_silent(loud)
    quiet = (loud * 0.01).astype(np.float32)
    assert float(np.abs(encoder.normalize(quiet)).max()) > float(np.abs(quiet).max())
