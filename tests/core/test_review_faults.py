"""Issue 9 finding 10: unreachable services are a retryable 503, never a 500 page or HTML from the API.

The faults are real: the cache and the broker point at a closed port, and the database connection
fails where the driver fails (at cursor creation, with the driver's own OperationalError, which
Django wraps as it would a dropped connection), or is killed by the server (PostgreSQL only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.models import JobStatus, MediaJob, Upload
from core.tasks import jobs_requeue_stalled
from tests.support import ClinicPeople, api_client, signed_in_client

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


# --- views that meet a real fault, mounted beside the project's own routes ------------------------


class CacheReadApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"value": cache.get("anything")})


class BugApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret-internal-detail at /srv/candor/settings")


def cache_read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(cache.get("anything")))


urlpatterns = [
    path("api/v1/fault/cache/", CacheReadApi.as_view()),
    path("api/v1/fault/bug/", BugApi.as_view()),
    path("api/v1/fault/plain-cache/", cache_read_view),
    path("fault/cache/", cache_read_view),
    path("", include("config.urls")),
]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings: Any) -> None:
    """The cache is a Redis that does not answer (a closed port)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_PORT_REDIS}
    }


@pytest.fixture
def broker_at() -> Iterator[Callable[[str], None]]:
    """Point Celery's broker at a URL for the test; the original broker is back afterwards."""
    from config.celery import app

    original = app.conf.broker_url

    def point(url: str) -> None:
        app.conf.broker_url = url
        # Celery keeps its connection and producer pools for the broker it first used; drop them so
        # the next publish connects to `url` (what Celery itself does after a fork).
        app._pool = None
        app.amqp._producer_pool = None

    yield point
    point(original)


def _database_down() -> Any:
    """Every new cursor fails as on a dropped connection: the driver's own OperationalError."""
    lost = connection.Database.OperationalError("server closed the connection unexpectedly")
    return mock.patch.object(connection, "create_cursor", side_effect=lost)


def _assert_retryable_json(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert set(body) == {"message", "code", "extra"}
    assert body["code"] == "service_unavailable" and "try again" in body["message"]
    return body


def _assert_unavailable_page(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html") and int(response["Retry-After"]) > 0
    text = response.content.decode()
    assert "briefly unavailable" in text
    assert "Traceback" not in text and "OperationalError" not in text and "ConnectionError" not in text


# --- the database ------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_a_dropped_database_connection_is_a_json_503_for_a_token_client(
    clinic_a: ClinicPeople, settings: Any, debug: bool
) -> None:
    """Issue 9 finding 10: /api/v1/ledger/entries/ on a dropped connection answered a 500 HTML page."""
    settings.DEBUG = debug
    client = api_client(clinic_a.compliance)
    with _database_down():
        response = client.get("/api/v1/ledger/entries/")
    body = _assert_retryable_json(response)
    assert "server closed" not in str(body)


@pytest.mark.parametrize("debug", [False, True])
def test_a_dropped_database_connection_is_a_json_503_even_when_a_middleware_meets_it(
    clinic_a: ClinicPeople, settings: Any, debug: bool
) -> None:
    """Issue 9 finding 10: with a session, the database fails in the middleware (reading the signed-in
    user), before any API view runs; the answer is still the API's JSON 503, not Django's page."""
    settings.DEBUG = debug
    client = signed_in_client(clinic_a.compliance)
    client.raise_request_exception = False
    with _database_down():
        response = client.get("/api/v1/ledger/entries/")
    _assert_retryable_json(response)


@pytest.mark.parametrize("debug", [False, True])
def test_a_page_on_a_dropped_database_connection_is_a_plain_503_page(
    clinic_a: ClinicPeople, settings: Any, debug: bool
) -> None:
    """Issue 9 finding 10: pages meeting an infrastructure fault get a plain 503 page, never a debug page."""
    settings.DEBUG = debug
    client = signed_in_client(clinic_a.clinician)
    client.raise_request_exception = False
    with _database_down():
        response = client.get("/jobs/")
    _assert_unavailable_page(response)


@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="terminating a server backend needs PostgreSQL (set DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_by_postgresql_is_a_json_503(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 10: the connection is terminated by the server (pg_terminate_backend)."""
    client = api_client(clinic_a.compliance)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        response = client.get("/api/v1/ledger/entries/")
        _assert_retryable_json(response)
    finally:
        connection.close()  # the next query connects afresh, as the next request would
    assert client.get("/api/v1/ledger/entries/").status_code == 200


# --- Redis as the cache ------------------------------------------------------------------------


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/api/v1/fault/cache/", "/api/v1/fault/plain-cache/"])
def test_redis_down_inside_an_api_view_is_a_json_503(
    db: None, redis_down: None, settings: Any, url: str
) -> None:
    """Issue 9 finding 10: a Redis connection error in a DRF view or a plain view under /api/."""
    settings.DEBUG = True
    _assert_retryable_json(Client().get(url))


@pytest.mark.urls(__name__)
def test_redis_down_on_a_page_is_a_plain_503_page(db: None, redis_down: None, settings: Any) -> None:
    """Issue 9 finding 10: a page whose cache is down gets the plain 503 page, not the debug page."""
    settings.DEBUG = True
    _assert_unavailable_page(Client().get("/fault/cache/"))


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_an_api_bug_is_a_json_500_that_names_nothing_internal(db: None, settings: Any, debug: bool) -> None:
    """Issue 9 finding 10: an API never answers HTML, not even for a bug; no detail leaks."""
    settings.DEBUG = debug
    response = Client().get("/api/v1/fault/bug/")
    assert response.status_code == 500 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "server_error" and set(body) == {"message", "code", "extra"}
    assert "secret" not in response.content.decode() and "/srv/" not in response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_signing_in_for_a_token_with_redis_down_never_answers_html(
    clinic_a: ClinicPeople, redis_down: None, settings: Any, debug: bool
) -> None:
    """Issue 9 finding 10: POST /api/v1/auth/token/ with Redis down answered the HTML debug page.

    The rate-limit counter may fall back while Redis is down (then the token is issued), or the
    request is a retryable 503; it is never a 500 and never HTML.
    """
    settings.DEBUG = debug
    response = Client().post(
        "/api/v1/auth/token/",
        {"username": clinic_a.clinician.username, "password": "correct-horse-battery"},
        content_type="application/json",
    )
    assert response["Content-Type"].startswith("application/json")
    if response.status_code != 200:
        _assert_retryable_json(response)
    else:
        assert response.json()["token"]


# --- the broker --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_video_uploaded_while_the_broker_is_down_stays_queued_and_the_sweeper_runs_it(
    clinic_a: ClinicPeople, tiny_video: Path, broker_at: Callable[[str], None], settings: Any
) -> None:
    """Issue 9 finding 10: POST /api/v1/videos/ with the broker down answered 500 after committing the
    upload row and deleting its file. The upload is kept whole (row, file, queued job) and the job is
    sent by the stall sweeper once the broker answers again."""
    from config.celery import app

    client = api_client(clinic_a.clinician)
    original = app.conf.broker_url
    broker_at(CLOSED_PORT_REDIS)
    response = client.post(
        "/api/v1/videos/", {"file": SimpleUploadedFile("c.mp4", tiny_video.read_bytes())}, format="multipart"
    )
    assert response.status_code == 202, response.content[:300]
    job = MediaJob.objects.get(id=response.json()["id"])
    assert job.status == JobStatus.QUEUED
    upload = Upload.objects.get()
    assert job.input_upload_id == upload.id and default_storage.exists(upload.storage_key)

    broker_at(original)
    # The sweeper's next round, long after the failed send.
    a_day_ago = timezone.now() - timedelta(days=1)
    MediaJob.objects.filter(id=job.id).update(created_at=a_day_ago, heartbeat_at=a_day_ago)
    app.conf.task_always_eager = True
    try:
        assert jobs_requeue_stalled() == 1
    finally:
        app.conf.task_always_eager = False
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_url_that_matches_no_route_is_a_json_404(db: None, settings: Any, debug: bool) -> None:
    """Issue 9 finding 10 (an API never answers HTML; found by the Schemathesis run): a malformed id
    in an API path answered Django's HTML 404 page."""
    settings.DEBUG = debug
    response = Client().post("/api/v1/consents/likeness/not-a-uuid/evidence/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json() == {"message": "Not Found.", "code": "not_found", "extra": {}}
