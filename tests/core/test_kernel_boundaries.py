"""The kernel knows no domain: it imports no app, the apps register what it runs, shows and seeds.

The import rules are read from the source (AST), so a new import anywhere in platform/core, in a
function or behind TYPE_CHECKING, fails here before any contract tool runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from avatars.engine.errors import EngineError, RenderCancelled
from core.demo import demo_contributions
from core.job_kinds import JOB_KINDS, job_kind_get, job_kind_register
from core.jobs import job_execute
from core.models import JobKind, JobStatus, MediaJob
from core.services import job_create
from core.tasks import video_proxy_run
from tests.support import ClinicPeople, signed_in_client

CORE = Path(__file__).resolve().parents[2] / "platform" / "core"
DOMAIN_APPS = {"consent", "avatars", "detection", "provenance"}
PROJECT_PACKAGES = DOMAIN_APPS | {"core", "config"}


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(CORE.rglob("*.py")):
        yield str(path.relative_to(CORE.parent)), ast.parse(path.read_text(), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement (or an import_module/__import__ call with a literal) names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    if (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def test_the_kernel_imports_no_domain_app() -> None:
    found = [
        f"{name}:{node.lineno} imports {module}"
        for name, tree in _sources()
        for node in ast.walk(tree)
        for module in _imported(node)
        if module.split(".")[0] in DOMAIN_APPS
    ]
    assert found == []


def test_the_kernel_defers_no_import_of_its_own_code_except_in_its_app_ready() -> None:
    # A function-level import is for a heavy library, never to dodge a cycle. The one exception is
    # AppConfig.ready, which Django calls once the models it would import are loaded.
    found = []
    for name, tree in _sources():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (name, function.name) == ("core/apps.py", "ready"):
                continue
            found += [
                f"{name}:{node.lineno} imports {module} inside {function.name}()"
                for node in ast.walk(function)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for module in _imported(node)
                if module.split(".")[0] in PROJECT_PACKAGES
            ]
    assert found == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> Iterator[ast.AST]:
    """Import statements that run, at module level or in a function (a deferred import still closes a
    cycle, it only hides it); those under a module-level `if TYPE_CHECKING:` never run."""
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        yield from (child for child in ast.walk(node) if isinstance(child, ast.Import | ast.ImportFrom))


def test_the_kernel_modules_import_each_other_without_a_cycle() -> None:
    paths = sorted(CORE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text())
        graph[_module_name(path)] = {
            target
            for node in _runtime_imports(tree)
            for target in _imported(node)
            if target in modules and target != _module_name(path)
        }
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*visiting[visiting.index(module) :], module])
            return
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert cycles == []


def test_each_job_kind_is_registered_by_the_app_that_owns_it() -> None:
    owners = {kind: spec.task.name.split(".")[0] for kind, spec in JOB_KINDS.items()}
    studio = {"render": "avatars", "enrollment": "avatars", "statement_check": "avatars"}
    assert {kind: owners.get(kind) for kind in studio} == studio
    assert [kind for kind, owner in owners.items() if owner == "core"] == ["video_proxy"]
    assert job_kind_get("render").on_failure is not None


def test_a_job_of_a_kind_no_app_registers_is_refused_before_anything_is_written(
    clinic_a: ClinicPeople,
) -> None:
    with pytest.raises(LookupError, match="retired_kind"):
        job_create(actor=clinic_a.clinician, kind="retired_kind")
    assert not MediaJob.objects.exists()


def test_a_kind_registered_again_differently_is_refused_and_the_same_entry_is_kept() -> None:
    kept = JOB_KINDS["video_proxy"]
    assert (
        job_kind_register(JobKind.VIDEO_PROXY, task=video_proxy_run, label=JobKind.VIDEO_PROXY.label) == kept
    )
    with pytest.raises(ImproperlyConfigured, match="video_proxy"):
        job_kind_register(JobKind.VIDEO_PROXY, task=video_proxy_run, label="Something else")
    assert JOB_KINDS["video_proxy"] is kept


def test_a_job_shows_the_label_its_app_registered_or_its_kind_when_none_does() -> None:
    assert MediaJob(kind="render").kind_label == "Avatar render"
    assert MediaJob(kind="video_proxy").kind_label == "Browser-playable proxy"
    assert MediaJob(kind="retired_kind").kind_label == "retired_kind"


def _run(clinic: ClinicPeople, kind: str, error: Exception) -> MediaJob:
    job = MediaJob.objects.create(clinic=clinic.clinic, owner=clinic.clinician, kind=kind)

    def work(*_: Any) -> dict[str, Any]:
        raise error

    job_execute(job_id=job.id, work=work)
    job.refresh_from_db()
    return job


def test_a_studio_job_ends_cancelled_or_failed_with_its_engines_own_errors(clinic_a: ClinicPeople) -> None:
    cancelled = _run(clinic_a, "enrollment", RenderCancelled("The render was cancelled."))
    assert cancelled.status == JobStatus.CANCELLED
    failed = _run(clinic_a, "statement_check", EngineError("Record again in better light.", code="too_dark"))
    assert (failed.status, failed.error_code, failed.error_message) == (
        JobStatus.FAILED,
        "too_dark",
        "Record again in better light.",
    )


def test_a_kernel_job_keeps_an_engine_message_it_does_not_know_to_itself(clinic_a: ClinicPeople) -> None:
    failed = _run(clinic_a, "video_proxy", EngineError("A studio message.", code="too_dark"))
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "internal_error")
    assert "A studio message." not in failed.error_message


def test_the_patient_home_page_shows_the_panel_the_studio_registers(clinic_a: ClinicPeople) -> None:
    patient = signed_in_client(clinic_a.patient).get("/").content.decode()
    assert "Education videos shared with you" in patient and "Nothing has been shared with you yet" in patient
    assert patient.index("Education videos shared with you") < patient.index("Talk to a person")
    clinician = signed_in_client(clinic_a.clinician).get("/").content.decode()
    assert "Education videos shared with you" not in clinician


def test_the_demo_publishes_consent_texts_before_the_studio_renders_and_signs_the_log_last() -> None:
    contributions = demo_contributions()
    assert [c.app for c in contributions] == ["consent", "avatars"]
    assert [c.app for c in contributions if c.finish is not None] == ["consent"]
    assert contributions[1].announce.startswith("Rendering the demo education video")
