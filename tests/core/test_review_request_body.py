"""Issue 9 finding 3: request bodies are refused before they are read, by their declared length, by
the verify rate limit, and (for streamed bodies) as soon as they pass the limit.

The ASGI application is driven directly with a counting receive(), so each test sees how much of the
body the server asked for.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core import signals
from django.db import close_old_connections

from core.ratelimit import rate_limit_hit

CLIENT = "203.0.113.5"


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    receive_calls: int = 0
    bytes_consumed: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


def _call(
    path: str,
    *,
    chunks: list[bytes],
    content_length: int | None,
    content_type: str = "application/octet-stream",
    headers: list[tuple[bytes, bytes]] | None = None,
    peer: str = CLIENT,
) -> Exchange:
    """POST `chunks` to the project's ASGI application and record what it read and answered."""
    from config.asgi import application

    exchange = Exchange()
    pending = list(chunks)
    finished = asyncio.Event()
    scope_headers = [(b"host", b"127.0.0.1"), (b"content-type", content_type.encode())]
    if content_length is not None:
        scope_headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": scope_headers + (headers or []),
        "client": (peer, 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        exchange.receive_calls += 1
        if pending:
            body = pending.pop(0)
            exchange.bytes_consumed += len(body)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        await finished.wait()  # after the body: the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if not message.get("more_body"):
                finished.set()

    async def run() -> None:
        await asyncio.wait_for(application(scope, receive, send), timeout=30)

    # As Django's test client does: no database connection housekeeping around these requests
    # (the suite's connection belongs to the test, and most of these tests use no database).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(run)()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return exchange


def test_a_declared_oversized_upload_is_refused_before_any_byte_is_read(settings) -> None:
    """Issue 9 finding 3: a 1.2 GB POST to /api/v1/verify/ was received in full (23 s, 1.15 GB on disk)."""
    answer = _call("/api/v1/verify/", chunks=[b"x" * 1024] * 4, content_length=1_200_000_000)
    assert answer.status == 413 and answer.receive_calls == 0
    assert answer.json()["code"] == "upload_too_large"
    assert "1200 MB" in answer.json()["message"] and "500 MB" in answer.json()["message"]


def test_the_verify_page_refuses_an_oversized_upload_with_a_page(settings) -> None:
    """Issue 9 finding 3: the browser form gets a readable page, not JSON, and nothing is read."""
    answer = _call(
        "/verify/", chunks=[b"x"], content_length=1_200_000_000, content_type="multipart/form-data"
    )
    assert answer.status == 413 and answer.receive_calls == 0
    assert answer.headers["content-type"].startswith("text/html")
    assert b"files of at most 500 MB are accepted" in answer.body


def test_a_request_that_is_not_an_upload_gets_the_small_limit(settings) -> None:
    """Issue 9 finding 3: only upload paths may send upload-sized bodies."""
    size = settings.REQUEST_MAX_BYTES + 1
    answer = _call(
        "/api/v1/invitations/", chunks=[b"{}"], content_length=size, content_type="application/json"
    )
    assert answer.status == 413 and answer.receive_calls == 0
    assert answer.json()["code"] == "request_too_large"


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(settings) -> None:
    """Issue 9 finding 3: a chunked body has no Content-Length, so it is counted while it arrives."""
    settings.UPLOAD_MAX_BYTES = 10_000
    settings.REQUEST_UPLOAD_MARGIN_BYTES = 0
    chunk = b"x" * 4_000
    answer = _call("/api/v1/verify/", chunks=[chunk] * 100, content_length=None)
    assert answer.status == 413 and answer.json()["code"] == "upload_too_large"
    assert answer.receive_calls == 3 and answer.bytes_consumed == 12_000  # not the 400,000 sent


def test_a_streamed_body_is_cut_off_on_a_page_path_too(settings) -> None:
    """Issue 9 finding 3: the same cap applies to a non-upload page, answered as a page."""
    settings.REQUEST_MAX_BYTES = 5_000
    answer = _call("/account/login/", chunks=[b"x" * 4_000] * 50, content_length=None)
    assert answer.status == 413 and answer.receive_calls == 2
    assert b"The request is larger than 5 kB; at most 5 kB are accepted here." in answer.body


def test_a_client_over_the_verify_limit_is_refused_before_it_uploads(settings) -> None:
    """Issue 9 finding 3: a client already over the verify rate limit still made the server receive
    its whole upload; now it is answered 429 at once, and the check does not count an attempt."""
    settings.PROVENANCE_VERIFY_RATE_LIMIT = 2
    for _ in range(2):
        rate_limit_hit(scope="verify", ident=CLIENT, limit=2, window_seconds=3600)
    for path in ("/api/v1/verify/", "/verify/"):
        answer = _call(path, chunks=[b"x" * 1000], content_length=1000, content_type="multipart/form-data")
        assert answer.status == 429 and answer.receive_calls == 0, path
    assert _call("/api/v1/verify/", chunks=[b"{}"], content_length=2).json()["code"] == "rate_limited"
    from django.core.cache import cache

    from core.ratelimit import _key

    assert cache.get(_key("verify", CLIENT)) == 2


def test_requests_within_the_limits_reach_django_with_their_body(settings) -> None:
    """Issue 9 finding 3: the guard passes ordinary requests through untouched."""
    settings.PROVENANCE_VERIFY_RATE_LIMIT = 2
    rate_limit_hit(scope="verify", ident=CLIENT, limit=2, window_seconds=3600)  # one left
    answer = _call("/api/v1/verify/", chunks=[b"{", b"}"], content_length=2, content_type="application/json")
    # DRF read the body and refused its type: the request got through to the view.
    assert answer.status == 415 and answer.bytes_consumed == 2
    streamed = _call(
        "/api/v1/verify/", chunks=[b"{", b"}"], content_length=None, content_type="application/json"
    )
    # Without a length DRF parses nothing and asks for the file; the body was still handed over.
    assert streamed.status == 400 and streamed.bytes_consumed == 2


def test_the_precheck_counts_per_forwarded_client_only_behind_a_trusted_proxy(settings) -> None:
    """Issue 9 findings 3 and 5: before the body, the client is the same address the service counts."""
    settings.PROVENANCE_VERIFY_RATE_LIMIT = 1
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    rate_limit_hit(scope="verify", ident="198.51.100.7", limit=1, window_seconds=3600)

    def via_proxy(forwarded: str) -> int:
        return _call(
            "/api/v1/verify/",
            chunks=[b"{}"],
            content_length=2,
            content_type="application/json",
            headers=[(b"x-forwarded-for", forwarded.encode())],
            peer="127.0.0.1",
        ).status

    assert via_proxy("198.51.100.7") == 429
    assert via_proxy("10.9.9.9, 198.51.100.7") == 429  # the client's own claim on the left is ignored
    assert via_proxy("198.51.100.8") == 415


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/videos/",
        "/studio/",
        "/studio/scripts/new/",
        "/consent/likeness/x/evidence/",
        "/api/v1/consents/likeness/x/evidence/",
        "/videos/upload/",
    ],
)
def test_every_upload_path_takes_upload_sized_bodies(path: str) -> None:
    """Issue 9 finding 3: the upload paths named in settings get the upload limit (plus the form's
    margin): a declared length at the limit goes through to Django, one byte more does not."""
    limit = django_settings.UPLOAD_MAX_BYTES + django_settings.REQUEST_UPLOAD_MARGIN_BYTES
    assert _call(path, chunks=[b""], content_length=limit).status != 413
    assert _call(path, chunks=[b""], content_length=limit + 1).status == 413
    assert _call("/team/", chunks=[b""], content_length=limit).status == 413


def _routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(sample path, view) for every route, with each converter filled by a sample value."""
    import re

    from django.urls import URLPattern, URLResolver

    samples = {"uuid": "00000000-0000-0000-0000-000000000000", "int": "1"}
    found: list[tuple[str, Any]] = []
    for entry in patterns:
        route = re.sub(
            r"<(?:(\w+):)?\w+>", lambda m: samples.get(m.group(1) or "str", "x"), str(entry.pattern)
        )
        if isinstance(entry, URLResolver):
            found += _routes(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            found.append(("/" + prefix + route, entry.callback))
    return found


def test_every_api_that_parses_multipart_is_an_upload_path() -> None:
    """Issue 9 finding 3: an upload API left out of REQUEST_UPLOAD_PATHS would refuse every real file."""
    import re

    from django.urls import get_resolver
    from rest_framework.parsers import MultiPartParser
    from rest_framework.views import APIView

    def declares_multipart(view: Any) -> bool:
        # Every APIView accepts multipart by DRF's default; an upload API names its parsers itself.
        mro = getattr(getattr(view, "cls", None), "__mro__", ())
        return any(MultiPartParser in vars(k).get("parser_classes", ()) for k in mro if k is not APIView)

    uploads = [path for path, view in _routes(get_resolver().url_patterns) if declares_multipart(view)]
    assert "/api/v1/videos/" in uploads and "/api/v1/verify/" in uploads
    for path in uploads:
        assert any(re.match(pattern, path) for pattern in django_settings.REQUEST_UPLOAD_PATHS), path
