"""Plots where a person would rather look than read (issue 15): ledger activity and consent states
on the compliance console, uses of a clinician's likeness on their consent page; each drawn on the
server as SVG with a text alternative, and the clinician's history told in sentences."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from consent.models import LedgerEntry
from consent.services import likeness_consent_revoke
from consent.services.likeness import likeness_consent_record_use
from core.charts import category_chart, day_buckets, time_chart
from tests.consent.conftest import active_consent
from tests.support import signed_in_client


def test_a_time_chart_stacks_each_days_series_and_says_so_in_words() -> None:
    days = day_buckets(date(2026, 3, 10), 10)
    assert days[0] == date(2026, 3, 1) and days[-1] == date(2026, 3, 10)
    chart = time_chart(
        title="Entries",
        days=days,
        counts={date(2026, 3, 4): [3, 1], date(2026, 3, 9): [0, 2]},
        series=["Consents", "Videos"],
        unit=("entry", "entries"),
    )
    assert chart.total == 6 and len(chart.rects) == 3
    assert "6 entries in the 10 days" in chart.summary and "busiest day was 4 March with 4" in chart.summary
    assert chart.table_rows == [["2026-03-04", "3", "1", "4"], ["2026-03-09", "0", "2", "2"]]
    # Stacked: the day's second series sits on top of its first, and the tallest day fills the axis.
    first, second = chart.rects[0], chart.rects[1]
    assert abs(second.y + second.height - first.y) < 0.2
    assert [tick.text for tick in chart.y_ticks] == ["0", "5"]


def test_a_category_chart_scales_bars_to_the_largest_count() -> None:
    chart = category_chart(
        title="States", rows=[("Active", 4, 1), ("Revoked", 2, 4)], unit=("consent", "consents")
    )
    assert chart.rects[0].width == 2 * chart.rects[1].width
    assert chart.summary == "6 consents: 4 active, 2 revoked."
    empty = category_chart(title="States", rows=[("Active", 0, 1)], unit=("consent", "consents"))
    assert empty.summary == "No consents yet." and empty.total == 0


def _svg(page: str, chart_id: str) -> str:
    match = re.search(rf'<figure class="chart" id="{chart_id}">(.*?)</figure>', page, re.S)
    assert match, f"no chart {chart_id}"
    return match.group(1)


def test_the_console_plots_ledger_activity_and_consent_states(texts: Any) -> None:
    active_consent(texts)
    page = signed_in_client(texts.compliance).get("/compliance/").content.decode()
    activity = _svg(page, "chart-activity")
    assert 'role="img"' in activity and "<title" in activity and "<desc" in activity
    entries = LedgerEntry.objects.filter(clinic_id=texts.clinic.id).count()
    assert f"{entries} ledger entries in the 30 days" in activity
    assert "<rect" in activity and "The numbers as a table" in activity
    states = _svg(page, "chart-likeness-states")
    assert "1 consent: 1 active." in states
    assert "<script" not in activity and "style=" not in activity  # the CSP allows neither


def test_the_likeness_page_plots_uses_and_tells_the_history_in_sentences(texts: Any) -> None:
    consent = active_consent(texts)
    likeness_consent_record_use(consent=consent, object_type="video", object_id=uuid.uuid4(), actor=None)
    likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)
    page = signed_in_client(texts.clinician).get("/consent/likeness/").content.decode()
    uses = _svg(page, "chart-uses")
    assert 'role="img"' in uses and "1 video made with your likeness in the 30 days" in uses
    assert "A video was made with your likeness." in page
    history = re.search(r'<ul class="history" id="likeness-history">(.*?)</ul>', page, re.S)
    assert history
    assert "You signed a likeness consent." in history.group(1)
    assert "Your likeness consent was revoked." in history.group(1)
    assert "likeness_consent." not in history.group(1)
    # The code is a sentence; hashes wait behind "technical details".
    assert "(revoked_by_clinician)" not in page and "The clinician revoked it." in page
    assert "<dt>Languages</dt><dd>English</dd>" in page  # scope codes read as words
    before_details = page.split("Technical details")[0]
    assert "SHA-256" not in before_details
