"""The job kinds: one entry per kind of media job, registered by the app that owns the kind.

The kernel runs every job the same way (core.jobs) but knows only its own kind, the browser-playable
proxy. Each app registers its kinds from its `register()` (called by its AppConfig.ready), so the
kernel never imports a domain app. An entry holds everything the kernel needs about a kind: the
Celery task that runs it, the label people see, its queue, the domain side of a failure, and which
of the work's exceptions mean "cancelled" or carry a message written for a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from celery import Task

    from core.models import MediaJob

# The domain side of a failed or cancelled job (e.g. the video a render was for), called with the job
# and the error code in the same fenced transaction that ends the job: by its worker, or by the stall
# check when the worker is gone for good.
FailureHook = Callable[["MediaJob", str], None]


@dataclass(frozen=True)
class JobKindSpec:
    """What the kernel needs to know to queue, run, show and end the jobs of one kind."""

    kind: str
    task: Task[Any, Any]
    label: str
    queue: str
    on_failure: FailureHook | None
    # Raised by the kind's engine to stop cleanly (e.g. from its progress callback after a cancel).
    cancellation_errors: tuple[type[Exception], ...]
    # Raised by the kind's engine with a message a person can act on (shown as the job's error).
    user_facing_errors: tuple[type[Exception], ...]
    # What cancelling a job of this kind means for the person, shown on the confirmation page.
    cancel_consequence: str = ""


# Filled at start-up by the apps' register() functions; read through job_kind_get.
JOB_KINDS: dict[str, JobKindSpec] = {}


def job_kind_register(
    kind: str,
    *,
    task: Task[Any, Any],
    label: str,
    queue: str = "media",
    on_failure: FailureHook | None = None,
    cancellation_errors: tuple[type[Exception], ...] = (),
    user_facing_errors: tuple[type[Exception], ...] = (),
    cancel_consequence: str = "",
) -> JobKindSpec:
    """Register a job kind; registering the same entry again is harmless, a different one is refused."""
    spec = JobKindSpec(
        kind=str(kind),
        task=task,
        label=str(label),
        queue=queue,
        on_failure=on_failure,
        cancellation_errors=cancellation_errors,
        user_facing_errors=user_facing_errors,
        cancel_consequence=cancel_consequence,
    )
    known = JOB_KINDS.setdefault(spec.kind, spec)
    if known != spec:
        raise ImproperlyConfigured(f"Job kind {spec.kind!r} is registered twice, differently.")
    return known


def job_kind_get(kind: str) -> JobKindSpec:
    """The registered entry of a kind; LookupError if no installed app registers it."""
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise LookupError(f"No installed app registers the job kind {kind!r}.") from None


def job_failure_record(job: MediaJob, code: str) -> None:
    """Run the domain side of a job that ends failed or cancelled, as its kind registered it.

    Called inside the transaction that ends the job (its worker's fenced finish, the stall check, or
    the cancellation of a job still queued), so both happen or neither does.
    """
    kind = JOB_KINDS.get(job.kind)
    if kind is not None and kind.on_failure is not None:
        kind.on_failure(job, code)
