"""A real ASGI server (uvicorn) and a real Celery worker in threads, driven by Debian's Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API keeps an event loop running in this thread; the ORM calls here are plain
# blocking calls made between browser steps, which is safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


def sign_in(page: Any, base: str, user: Any) -> None:
    """Sign `user` in through the login page (with the second factor for privileged roles) and wait
    for the home page."""
    from tests.support import PASSWORD, totp_now

    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if user.is_privileged:
        page.get_by_label("6-digit code from your authenticator app").fill(totp_now(user))
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base}/", wait_until="domcontentloaded")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server_url(
    transactional_db: None, settings: Any, _release_server_connections: None
) -> Iterator[str]:
    """Serve the ASGI application (HTTP and websockets) on a free loopback port."""
    import uvicorn

    from config.asgi import application

    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    # The server gets channel layers of its own. A Redis channel layer remembers the event loop it
    # is receiving on until that receive returns; when an earlier server's (or test's) loop stopped
    # while a consumer waited, that receive never returns, and a shared layer refuses every
    # websocket in any other loop ("Two event loops are trying to receive() on one channel layer at
    # once!"), so a page never hears that its job finished. Afterwards the layers of before are put
    # back, so the tests after this one find what they found before it.
    from channels.layers import channel_layers

    before = dict(channel_layers.backends)
    channel_layers.backends.clear()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    channel_layers.backends.clear()
    channel_layers.backends.update(before)


@pytest.fixture(scope="session")
def _release_server_connections(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """At the end of the session, close what the server and worker threads left open.

    Their threads keep their own database connections, and PostgreSQL refuses to drop the test
    database while any is open. This runs before the test database is dropped.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def celery_worker_thread(transactional_db: None) -> Iterator[None]:
    """A Celery worker consuming the default and media queues from the configured broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        queues=["default", "media"],
        shutdown_timeout=30,
    ):
        yield


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()
