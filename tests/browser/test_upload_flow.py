"""A person signs in, uploads a video, watches the progress bar reach 100% and plays the proxy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.demo import demo_video_write
from core.models import JobStatus, MediaJob
from tests.browser.conftest import ARTIFACTS
from tests.support import PASSWORD, ClinicPeople, totp_now

pytestmark = pytest.mark.browser


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_signs_in_with_totp_uploads_and_plays_the_proxy(
    clinic_a: ClinicPeople,
    live_server_url: str,
    celery_worker_thread: None,
    browser_page,
    tmp_path: Path,
    settings,
) -> None:
    page = browser_page
    settings.JOB_PROGRESS_MIN_INTERVAL_SECONDS = 0.0
    video = demo_video_write(tmp_path / "consultation.mp4", seconds=10.0, width=640, height=360)

    _sign_in(page, live_server_url, clinic_a.admin.username)
    page.wait_for_url("**/account/second-factor/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(clinic_a.admin))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server_url}/")
    assert page.get_by_role("heading", name=clinic_a.clinic.name).is_visible()

    page.get_by_role("link", name="Upload video").first.click()
    page.get_by_label("Video file").set_input_files(str(video))
    page.get_by_role("button", name="Upload and convert").click()
    page.wait_for_url("**/jobs/*/")

    seen: list[float] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if page.locator("#proxy-video").count() or page.locator(".status-failed, .status-cancelled").count():
            break
        value = page.evaluate(
            "() => { const p = document.querySelector('#job-progress'); return p ? p.value : null; }"
        )
        if value is not None:
            seen.append(float(value))
        time.sleep(0.05)
    page.screenshot(path=str(ARTIFACTS / "upload-job-finished.png"), full_page=True)
    job = MediaJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED, (job.status, job.stage, job.percent, job.error_message)
    assert page.locator('[data-field="percent"]').inner_text() == "100%"
    assert float(page.locator("#job-progress").get_attribute("value")) == 100.0
    assert any(0 < v < 100 for v in seen), f"no intermediate progress seen: {seen[:20]}"

    played = page.evaluate(
        """async () => {
            const v = document.querySelector('#proxy-video');
            v.muted = true;
            await v.play();
            const start = performance.now();
            while (v.currentTime < 1.0 && performance.now() - start < 15000) {
                await new Promise(r => setTimeout(r, 100));
            }
            return {time: v.currentTime, width: v.videoWidth, height: v.videoHeight, error: v.error && v.error.code};
        }"""
    )
    page.screenshot(path=str(ARTIFACTS / "upload-proxy-playing.png"))
    assert played["error"] is None
    assert played["time"] >= 1.0 and (played["width"], played["height"]) == (640, 360)


def test_a_bad_upload_shows_the_reason_on_the_page(
    clinic_a: ClinicPeople, live_server_url: str, browser_page, tmp_path: Path
) -> None:
    page = browser_page
    fake = tmp_path / "scan.mp4"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    _sign_in(page, live_server_url, clinic_a.clinician.username)
    page.wait_for_url(f"{live_server_url}/")
    page.goto(f"{live_server_url}/videos/upload/")
    page.get_by_label("Video file").set_input_files(str(fake))
    page.get_by_role("button", name="Upload and convert").click()
    error = page.get_by_role("alert").first
    assert "PNG image" in error.inner_text()
    page.screenshot(path=str(ARTIFACTS / "upload-refused.png"), full_page=True)
    assert MediaJob.objects.count() == 0
