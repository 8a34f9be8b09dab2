"""A compliance officer scans a lip-synced fake of an enrolled clinician, sees the verdict, the plot and the
evidence, receives the alert live on the scanner page, opens a case and downloads the takedown notice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.models import Scan
from tests.browser.conftest import ARTIFACTS
from tests.detection.test_scans import enroll_portrait, shared
from tests.support import PASSWORD, ClinicPeople, totp_now

pytestmark = pytest.mark.browser


def _dubbed_fake(folder: Path) -> tuple[Path, Path]:
    """A GRID speaker's first frame (their enrollment photo) and their clip re-dubbed half a second late."""
    import numpy as np
    from PIL import Image

    from avatars.engine.media import read_audio as read_48k
    from detection.engine.media import iter_frames
    from tests.detection.engine.detection_media import write_video

    clip = shared("talking/grid/swiz3n.mpg")
    frames = [frame.rgb() for frame in iter_frames(clip)]
    Image.fromarray(frames[0]).save(folder / "portrait.png")
    sound = np.concatenate([np.zeros(24_000, np.float32), read_48k(clip)])
    return folder / "portrait.png", write_video(folder / "clip.mp4", iter(frames), audio=sound)


def test_a_compliance_officer_scans_a_fake_gets_the_alert_live_and_downloads_a_takedown_notice(
    clinic_a: ClinicPeople,
    live_server_url: str,
    celery_worker_thread: None,
    browser_page: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    page = browser_page
    settings.JOB_PROGRESS_MIN_INTERVAL_SECONDS = 0.0
    portrait, fake = _dubbed_fake(tmp_path)
    enroll_portrait(clinic_a.clinician, portrait)
    officer = clinic_a.compliance

    page.goto(f"{live_server_url}/account/login/")
    page.get_by_label("Username").fill(officer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/second-factor/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(officer))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server_url}/")

    # A second window, signed in with the same session, keeps the scanner page open for the alert.
    watcher = page.context.browser.new_context(storage_state=page.context.storage_state()).new_page()
    watcher.goto(f"{live_server_url}/scanner/")
    watcher.wait_for_selector("#scan-alerts[data-connected]")

    page.get_by_role("link", name="Scanner").first.click()
    page.get_by_label("Video, image or audio files").set_input_files(str(fake))
    page.get_by_role("button", name="Scan").click()
    page.wait_for_url("**/scanner/scans/*/")
    page.wait_for_selector("#verdict", timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "scan-result.png"), full_page=True)

    who = clinic_a.clinician.printed_name
    assert page.locator("#verdict h2").inner_text() == f"Verdict: suspected unauthorized deepfake of {who}"
    assert page.locator("#score-plot polyline").count() >= 1
    assert page.locator("#scores").get_by_text("lip_sync").is_visible()
    assert page.get_by_role("heading", name="Evidence").is_visible()
    if Scan.objects.get().evidence.exclude(heatmap_key="").exists():  # the manipulation model is trained
        loaded = page.evaluate(
            "() => [...document.querySelectorAll('img.heatmap')].map(i => i.complete && i.naturalWidth > 0)"
        )
        assert loaded and all(loaded), loaded
    alert = watcher.locator(".alerts .alert").first
    alert.wait_for(timeout=30_000)
    assert f"suspected unauthorized deepfake of {who}" in alert.inner_text()
    watcher.screenshot(path=str(ARTIFACTS / "scan-alert.png"))

    page.get_by_role("button", name="Open a case").click()
    page.wait_for_url("**/scanner/cases/*/")
    page.get_by_role("button", name="Start review").click()
    page.get_by_label("Platform").fill("VidShare")
    page.get_by_label("Address of the content").fill("https://vidshare.example/v/42")
    page.get_by_role("button", name="Record the takedown notice").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the notice (PDF)").click()
    notice = Path(download.value.path()).read_bytes()

    assert notice.startswith(b"%PDF")
    scan = Scan.objects.get()
    assert scan.cases.get().takedown_platform == "VidShare"
