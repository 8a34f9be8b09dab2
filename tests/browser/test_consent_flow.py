"""A clinician signs and revokes likeness consent on one page; a compliance officer finds both events,
verifies the ledger and downloads the PDF evidence report."""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import LedgerEntry, LikenessStatus
from tests.browser.conftest import ARTIFACTS
from tests.support import PASSWORD, totp_now

pytestmark = pytest.mark.browser


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_revoke_then_audit(texts: Any, live_server_url: str, browser_page: Any) -> None:
    page = browser_page
    _sign_in(page, live_server_url, texts.clinician.username)
    page.wait_for_url(f"{live_server_url}/")
    page.get_by_role("link", name="My likeness consent").click()
    assert page.get_by_role("article", name="Consent text").is_visible()
    page.get_by_label("Topics my likeness may present").fill("diabetes, asthma")
    page.get_by_label("Your password (to sign)").fill(PASSWORD)
    page.get_by_role("button", name="Sign consent").click()
    assert page.locator("#consent-status").inner_text() == "Awaiting verification"
    page.screenshot(path=str(ARTIFACTS / "consent-signed.png"), full_page=True)
    page.get_by_role("button", name="Revoke my consent").click()
    page.get_by_label("I understand that this takes effect at once").check()  # the confirmation step
    page.get_by_role("button", name="Revoke my consent").click()
    assert page.locator("#consent-status").inner_text() == "Revoked"
    # The ledger rows sit in a collapsed "technical details" section: read their text, shown or not.
    assert "likeness_consent.revoked" in (page.locator("table.ledger").text_content() or "")
    consent = texts.clinician.likeness_consents.get()
    assert consent.status == LikenessStatus.REVOKED
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, live_server_url, texts.compliance.username)
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(texts.compliance))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("link", name="Compliance").click()
    assert page.locator("#integrity-status").inner_text() == "verified"
    page.get_by_label("Person").select_option(label=f"{texts.clinician.printed_name} (Clinician)")
    page.get_by_role("button", name="Search").click()
    ledger = page.locator("table.ledger").inner_text()
    assert "likeness_consent.signed" in ledger and "likeness_consent.revoked" in ledger
    page.screenshot(path=str(ARTIFACTS / "compliance-console.png"), full_page=True)
    page.get_by_label("Recipient").fill("Internal audit file")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    download = download_info.value
    path = ARTIFACTS / "evidence.pdf"
    download.save_as(str(path))
    assert path.read_bytes().startswith(b"%PDF")
    assert LedgerEntry.objects.filter(event_type="export.pdf").exists()
    _assert_signed_by_the_platform(path.read_bytes())


def _assert_signed_by_the_platform(pdf: bytes) -> None:
    """pyHanko's validator finds the downloaded report's PAdES signature intact and trusted."""
    import io
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = load_cert_from_pemder(str(settings.PROVENANCE_KEY_DIR / "root" / "root.crt"))
    (signature,) = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    # pyHanko's synchronous API runs its own event loop, which Playwright's (in this thread) forbids.
    with ThreadPoolExecutor(max_workers=1) as pool:
        status = pool.submit(validate_pdf_signature, signature, context).result()
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"] == "Candor evidence reports"
