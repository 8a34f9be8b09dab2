"""Every file of the hostile-upload corpus (tests/hostile/make_corpus.py) posted to every upload
endpoint, as the role that may use it: each answer is a 4xx with a message, never a 5xx, and
nothing is left behind (no row in any table, no file under MEDIA_ROOT, no temporary file).

The upload endpoints (ten; the issue's eight plus the statement API and the narration recording):

=================  ==================================================  ===========================
name               request                                             as
=================  ==================================================  ===========================
video-api          POST /api/v1/videos/ (file)                         clinician, API token
video-page         POST /videos/upload/ (file)                         clinician, session
statement-api      POST /api/v1/consents/likeness/<id>/evidence/       clinician, API token
statement-page     POST /consent/likeness/<id>/evidence/ (file)        clinician, session
footage-page       POST /studio/ (footage)                             clinician, session
voice-page         POST /studio/ (a valid footage + voice)             clinician, session
portrait-page      POST /studio/ (photo)                               clinician, session
narration-page     POST /studio/scripts/new/ (narration, recorded)     clinician, session
verify-api         POST /api/v1/verify/ (file)                         anyone
verify-page        POST /verify/ (file)                                anyone
=================  ==================================================  ===========================

An API answers JSON with a "message"; a page shows the reason as an error (a form or field error,
or an error message). Bodies are written byte for byte (tests/hostile/client.py), so the names
reach the server as an attacker sends them. One test per endpoint walks the whole corpus with a
subtest per file; the corpus is made once per session.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from tests.hostile.client import MULTIPART, multipart, visible_errors
from tests.hostile.make_corpus import HostileFile, make_corpus
from tests.support import PASSWORD, ClinicPeople, api_client, signed_in_client

#: Tables a refused upload could leave a row in: every model of every app (sessions aside, whose
#: rows a request may rewrite).
_SKIPPED_TABLES = {"sessions.session"}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[HostileFile]:
    return make_corpus(tmp_path_factory.mktemp("hostile-corpus"))


@dataclass(frozen=True)
class Endpoint:
    name: str
    api: bool
    #: Given the clinic and a valid video: (client, url, other form fields, other files).
    prepare: Callable[[ClinicPeople, Path], tuple[Client, str, dict[str, str], dict[str, tuple[str, bytes]]]]
    field: str


def _video_api(clinic: ClinicPeople, _: Path) -> Any:
    return api_client(clinic.clinician), "/api/v1/videos/", {}, {}


def _video_page(clinic: ClinicPeople, _: Path) -> Any:
    return signed_in_client(clinic.clinician), "/videos/upload/", {}, {}


def _awaiting_statement(clinic: ClinicPeople) -> str:
    from consent.services import likeness_consent_sign
    from tests.consent.conftest import scope

    return str(likeness_consent_sign(clinician=clinic.clinician, scope=scope(), password=PASSWORD).id)


def _statement_api(clinic: ClinicPeople, _: Path) -> Any:
    url = f"/api/v1/consents/likeness/{_awaiting_statement(clinic)}/evidence/"
    return api_client(clinic.clinician), url, {}, {}


def _statement_page(clinic: ClinicPeople, _: Path) -> Any:
    url = f"/consent/likeness/{_awaiting_statement(clinic)}/evidence/"
    return signed_in_client(clinic.clinician), url, {}, {}


def _stock_presenter(clinic: ClinicPeople) -> str:
    """The studio makes the clinic's stock presenter on first sight: made here, before counting."""
    from avatars.services import enrollment_stock_get_or_create

    return str(enrollment_stock_get_or_create(actor=clinic.clinician).id)


def _studio(clinic: ClinicPeople, _: Path) -> Any:
    _stock_presenter(clinic)
    return signed_in_client(clinic.clinician), "/studio/", {}, {}


def _voice(clinic: ClinicPeople, valid_video: Path) -> Any:
    _stock_presenter(clinic)
    # The footage is fine, so the voice sample is what the studio must refuse.
    return (
        signed_in_client(clinic.clinician),
        "/studio/",
        {},
        {"footage": ("me.mp4", valid_video.read_bytes())},
    )


def _narration(clinic: ClinicPeople, _: Path) -> Any:
    fields = {
        "enrollment": _stock_presenter(clinic),
        "title": "Morning glucose",
        "language": "en",
        "topic": "diabetes",
        "audience": "patients",
        "channel": "portal",
        "text": "Check your blood sugar before breakfast and write it down.",
        "narration_source": "recording",
    }
    return signed_in_client(clinic.clinician), "/studio/scripts/new/", fields, {}


def _verify_api(clinic: ClinicPeople, _: Path) -> Any:
    return Client(), "/api/v1/verify/", {}, {}


def _verify_page(clinic: ClinicPeople, _: Path) -> Any:
    return Client(), "/verify/", {}, {}


ENDPOINTS = [
    Endpoint("video-api", True, _video_api, "file"),
    Endpoint("video-page", False, _video_page, "file"),
    Endpoint("statement-api", True, _statement_api, "file"),
    Endpoint("statement-page", False, _statement_page, "file"),
    Endpoint("footage-page", False, _studio, "footage"),
    Endpoint("voice-page", False, _voice, "voice"),
    Endpoint("portrait-page", False, _studio, "photo"),
    Endpoint("narration-page", False, _narration, "narration"),
    Endpoint("verify-api", True, _verify_api, "file"),
    Endpoint("verify-page", False, _verify_page, "file"),
]


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label_lower: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.label_lower not in _SKIPPED_TABLES
    }


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _problems(endpoint: Endpoint, response: Any) -> list[str]:
    """What is wrong with an answer to a hostile file (nothing, for a clear 4xx with its reason)."""
    status = response.status_code
    problems = [] if 400 <= status < 500 else [f"status {status}"]
    content_type = response.get("Content-Type", "")
    if endpoint.api:
        if not content_type.startswith("application/json"):
            return [*problems, f"API answered {content_type}"]
        message = response.json().get("message")
        if not isinstance(message, str) or not message.strip():
            problems.append(f"no message in {response.content[:200]!r}")
    else:
        if not content_type.startswith("text/html"):
            return [*problems, f"page answered {content_type}"]
        if not visible_errors(response.content.decode()):
            problems.append("the page shows no error")
    if b"Traceback" in response.content:
        problems.append("a traceback is shown")
    return problems


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_every_hostile_file_is_refused_with_a_reason_and_leaves_nothing(
    endpoint: Endpoint,
    corpus: list[HostileFile],
    texts: ClinicPeople,
    tiny_video: Path,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    subtests: Any,
) -> None:
    # Hundreds of uploads by one person or address: the rate limits are not what is tested here.
    settings.UPLOAD_RATE_LIMIT = settings.PROVENANCE_VERIFY_RATE_LIMIT = 100_000
    # Every temporary file of the request (the upload's scratch folder, Django's spooled uploads)
    # goes to a folder of this test, which must be empty after each answer.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    settings.FILE_UPLOAD_TEMP_DIR = str(temporary)
    media_root = Path(settings.MEDIA_ROOT)
    client, url, fields, files = endpoint.prepare(texts, tiny_video)

    for item in corpus:
        with subtests.test(msg=item.slug, upload_name=item.upload_name):
            # Compared file by file, so one file let through does not fail all those after it.
            rows, stored, scratch = _row_counts(), _files(media_root), _files(temporary)
            body = multipart(fields, {**files, endpoint.field: (item.upload_name, item.data)})

            response = client.post(url, data=body, content_type=MULTIPART)

            assert not _problems(endpoint, response), (
                _problems(endpoint, response),
                item.description,
                response.content[:600],
            )
            assert _row_counts() == rows, item.description
            assert _files(media_root) == stored, item.description
            assert _files(temporary) == scratch, item.description
    assert _files(temporary) == []


def test_the_corpus_is_the_same_on_every_run(tmp_path: Path) -> None:
    # Each run is a fresh process, as in CI. Within one process a second MP4 encode can differ by a
    # few header bytes (the AAC/MP4 muxer keeps state between files), which says nothing about runs.
    script = Path(__file__).with_name("make_corpus.py")
    runs = []
    for name in ("first", "second"):
        subprocess.run([sys.executable, str(script), str(tmp_path / name)], check=True, capture_output=True)
        runs.append({f.name: f.read_bytes() for f in sorted((tmp_path / name).iterdir())})

    assert len(runs[0]) >= 60
    assert runs[0] == runs[1]


def test_the_corpus_is_large_and_every_file_small(corpus: list[HostileFile]) -> None:
    assert len(corpus) >= 60
    assert max(item.path.stat().st_size for item in corpus) < 512 * 1024
    assert len({item.slug for item in corpus}) == len(corpus)


@pytest.mark.parametrize(
    "upload_name,shown",
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\windows\\system32\\evil.mp4", "evil.mp4"),
        ("clip\x00.png.mp4", "clip.png.mp4"),
        ("invoice\u202egnp.mp4", "invoicegnp.mp4"),
        # The line break ends the header: what is left is its opening quote and the name.
        ("clip.mp4\r\nContent-Type: text/html", '"clip.mp4'),
        ("\U0001f600 clip.mp4", "\U0001f600 clip.mp4"),
        ("a" * 300 + ".mp4", "a" * 200),
    ],
)
def test_a_valid_video_sent_under_a_hostile_name_is_kept_under_a_clean_one(
    clinic_a: ClinicPeople, tiny_video: Path, upload_name: str, shown: str
) -> None:
    """The name is only ever shown (files are stored under a random key): no folders, control or
    direction characters reach a page."""
    from core.models import Upload

    body = multipart({}, {"file": (upload_name, tiny_video.read_bytes())})

    response = api_client(clinic_a.clinician).post("/api/v1/videos/", data=body, content_type=MULTIPART)

    assert response.status_code == 202, response.content
    upload = Upload.objects.get()
    assert upload.original_name == shown
    assert upload.storage_key.startswith(f"uploads/{clinic_a.clinic.id}/{upload.id}/")
