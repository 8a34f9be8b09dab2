"""The metrics endpoint: who may scrape it, and that it reports jobs and the ledger from the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import JobStatus, MediaJob
from tests.support import ClinicPeople


def _scrape(client: Client, **headers: Any) -> dict[str, Any]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def _sample(families: dict[str, Any], name: str, family: str | None = None, **labels: str) -> float:
    for sample in families[family or name].samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


def _job(clinic: ClinicPeople, *, status: str, seconds: float | None = None, **fields: Any) -> MediaJob:
    now = timezone.now()
    timing = {}
    if seconds is not None:
        timing = {"started_at": now - timedelta(seconds=seconds), "finished_at": now}
    return MediaJob.objects.create(
        clinic=clinic.clinic, owner=clinic.clinician, kind="video_proxy", status=status, **timing, **fields
    )


def test_a_finished_jobs_duration_queued_and_stalled_jobs_and_the_ledger_are_reported(
    clinic_a: ClinicPeople,
) -> None:
    from consent.ledger import ledger_append

    _job(clinic_a, status=JobStatus.SUCCEEDED, seconds=42.0)
    _job(clinic_a, status=JobStatus.FAILED, seconds=3.0)
    _job(clinic_a, status=JobStatus.QUEUED, queue="media")
    _job(clinic_a, status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    ledger_append(event_type="test.metrics", clinic_id=clinic_a.clinic.id, subject=clinic_a.clinician.pk)

    families = _scrape(Client())

    duration = "candor_job_duration_seconds"
    labels = {"kind": "video_proxy", "outcome": "succeeded"}
    assert _sample(families, f"{duration}_count", duration, **labels) == 1
    assert _sample(families, f"{duration}_sum", duration, **labels) == pytest.approx(42.0, abs=0.5)
    assert _sample(families, f"{duration}_bucket", duration, le="30.0", **labels) == 0
    assert _sample(families, f"{duration}_bucket", duration, le="60.0", **labels) == 1
    assert _sample(families, f"{duration}_count", duration, kind="video_proxy", outcome="failed") == 1
    assert _sample(families, "candor_jobs_queued", queue="media") == 1
    assert _sample(families, "candor_jobs_stalled") == 1
    assert _sample(families, "candor_jobs", kind="video_proxy", status="succeeded") == 1
    assert _sample(families, "candor_ledger_entries") >= 1


def test_without_a_token_only_loopback_clients_may_scrape(db: None) -> None:
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404


def test_with_a_token_the_scraper_must_send_it(db: None, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-token-for-prometheus"
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    ok = Client(REMOTE_ADDR="203.0.113.9").get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-prometheus"
    )
    assert ok.status_code == 200 and b"candor_jobs" in ok.content


def test_the_grafana_dashboard_asks_only_for_metrics_the_endpoint_serves(clinic_a: ClinicPeople) -> None:
    import json
    import re
    from pathlib import Path

    _job(clinic_a, status=JobStatus.SUCCEEDED, seconds=1.0)
    served = set(_scrape(Client()))
    dashboard = json.loads(
        (Path(__file__).resolve().parents[2] / "docker/grafana-dashboard.json").read_text()
    )
    asked = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcandor_[a-z_]+", target["expr"])
    }
    assert asked and asked <= served, asked - served
