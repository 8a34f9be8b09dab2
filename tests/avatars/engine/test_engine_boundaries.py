"""The engine stays a framework-free library, and its disclosure cannot be configured away."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import avatars.engine
from avatars.engine import Disclosure, RenderSpec

ENGINE = Path(avatars.engine.__file__).parent
FRAMEWORKS = ("django", "celery", "channels", "rest_framework", "daphne")


def test_no_engine_module_imports_a_web_or_task_framework() -> None:
    for source in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] in FRAMEWORKS], (source.name, names)


def test_importing_the_engine_loads_no_heavy_libraries() -> None:
    code = (
        "import sys; import avatars.engine; "
        "print(sorted(m for m in ('dlib', 'torch', 'av', 'cv2') if m in sys.modules))"
    )
    # The project's path setup: the `platform/` source root (the kernel's media toolkit) and the root.
    root = ENGINE.parent.parent
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{root / 'platform'}:{root}"},
    ).stdout
    assert output.strip() == "[]"


def test_no_render_option_can_turn_the_disclosure_off() -> None:
    options = {field.name for field in dataclasses.fields(RenderSpec)}
    assert "disclosure" in options
    assert not [
        name
        for name in options - {"disclosure"}
        if "label" in name or "disclos" in name or "disclaim" in name
    ]
    assert {field.name for field in dataclasses.fields(Disclosure)} == {"label", "intro", "outro"}
