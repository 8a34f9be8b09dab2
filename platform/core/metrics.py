"""Prometheus metrics, read from the database when they are scraped.

Every figure comes from the shared database at scrape time, not from counters in one process, so any
web process answers for the whole deployment (several web processes, workers on other machines) and
nothing is lost when a process restarts. The kernel reports jobs; an app adds its own figures with
`metrics_register` from its `register()` (the consent app adds the ledger's size and the age of its
last signed head), so the kernel imports no app.

Scraping: `GET /metrics` with `Authorization: Bearer <CANDOR_METRICS_TOKEN>`; without a configured
token only loopback clients are answered (the demo, a sidecar on the same host).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core.models import FINISHED_STATUSES, JobStatus, MediaJob
from core.ratelimit import client_address

#: Finished jobs counted in the duration histograms: a sliding window, so the figures stay cheap to
#: compute and describe recent behaviour (Prometheus keeps the history).
DURATION_WINDOW = timedelta(hours=24)
#: Upper bounds (seconds) of the job-duration histogram buckets: a proxy takes seconds, a render
#: or a 10-minute anonymization several minutes.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

Contribution = Callable[[], Iterable[Metric]]
_contributions: list[Contribution] = []


def metrics_register(contribution: Contribution) -> None:
    """Add an app's metrics to every scrape (registering the same function again changes nothing)."""
    if contribution not in _contributions:
        _contributions.append(contribution)


def job_metrics() -> Iterator[Metric]:
    """The kernel's figures: jobs by state, queued jobs per queue, stalled jobs, recent durations."""
    by_state = GaugeMetricFamily("candor_jobs", "Media jobs by kind and status.", labels=["kind", "status"])
    for row in MediaJob.objects.values("kind", "status").annotate(n=Count("id")).order_by("kind", "status"):
        by_state.add_metric([row["kind"], row["status"]], row["n"])
    yield by_state

    queued = GaugeMetricFamily(
        "candor_jobs_queued", "Jobs waiting for a worker, per Celery queue.", labels=["queue"]
    )
    for row in (
        MediaJob.objects.filter(status=JobStatus.QUEUED)
        .values("queue")
        .annotate(n=Count("id"))
        .order_by("queue")
    ):
        queued.add_metric([row["queue"]], row["n"])
    yield queued

    lease_ends = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    stalled = GaugeMetricFamily(
        "candor_jobs_stalled",
        "Running jobs with no heartbeat within the lease (their worker is gone; they will be run again).",
    )
    stalled.add_metric(
        [], MediaJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=lease_ends).count()
    )
    yield stalled

    yield _durations()


def _durations() -> HistogramMetricFamily:
    since = timezone.now() - DURATION_WINDOW
    rows = MediaJob.objects.filter(
        status__in=FINISHED_STATUSES,
        finished_at__gte=since,
        started_at__isnull=False,
    ).values_list("kind", "status", "started_at", "finished_at")
    samples: dict[tuple[str, str], list[float]] = {}
    for kind, status, started, finished in rows.iterator():
        if started is None or finished is None:  # the filter above excludes these; for the type checker
            continue
        samples.setdefault((kind, status), []).append(max(0.0, (finished - started).total_seconds()))
    family = HistogramMetricFamily(
        "candor_job_duration_seconds",
        f"Run time of jobs finished in the last {int(DURATION_WINDOW.total_seconds() // 3600)} hours, "
        "by kind and outcome.",
        labels=["kind", "outcome"],
    )
    for (kind, status), durations in sorted(samples.items()):
        buckets = [(str(b), sum(d <= b for d in durations)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(durations)))
        family.add_metric([kind, status], buckets=buckets, sum_value=sum(durations))
    return family


class _Collector:
    """Collects the kernel's and the apps' figures at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from job_metrics()
        for contribution in _contributions:
            yield from contribution()


def metrics_text() -> bytes:
    """The Prometheus text exposition of every registered figure, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


def _may_scrape(request: HttpRequest) -> bool:
    token: str = getattr(settings, "METRICS_TOKEN", "")
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`GET /metrics`: the figures for Prometheus, to a scraper holding the token (or on loopback)."""
    if not _may_scrape(request):
        # Answer as for any unknown address: the endpoint's existence is not advertised.
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
