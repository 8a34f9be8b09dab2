"""Biometric data pages: deleting an enrollment (with a confirmation step) and the published
retention schedule."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_http_methods

from avatars.models import EnrollmentKind
from avatars.services import (
    DeletionPreview,
    enrollment_delete,
    enrollment_deletion_preview,
    retention_schedule,
)
from core.errors import ApplicationError
from core.forms import ConfirmForm
from core.requests import AuthenticatedHttpRequest


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _consequences(preview: DeletionPreview) -> tuple[list[str], list[str]]:
    """What deleting changes, and what stays, in sentences."""
    who = "their" if preview.on_behalf else "your"
    *parts, templates = preview.destroyed  # the derived templates always come last
    changes = [f"Destroyed for good: {who} {', '.join(parts)}, and the {templates}."]
    if preview.renders_stopped:
        changes.append(f"{_plural(preview.renders_stopped, 'render', 'renders')} in progress will stop.")
    if preview.scripts_blocked:
        changes.append(
            f"{_plural(preview.scripts_blocked, 'script', 'scripts')} presented with it can no longer be "
            "rendered; a new enrollment is needed to make new videos."
        )
    else:
        changes.append("No new video can be made with it; a new enrollment is needed for that.")
    changes.append(
        "The ledger records the deletion (what was destroyed, by whom, when), never the data itself."
    )
    stays = [
        f"{_plural(preview.videos_published, 'published video stays', 'published videos stay')} "
        "published while the likeness consent is in force: to withdraw videos, revoke the consent."
        if preview.videos_published
        else "No published video was made with it. Videos are withdrawn by revoking the likeness consent.",
    ]
    return changes, stays


@login_required
@require_http_methods(["GET", "POST"])
def enrollment_delete_page(request: AuthenticatedHttpRequest, enrollment_id: str) -> HttpResponse:
    """Confirm, then destroy an enrollment's biometric data (its clinician, or a clinic admin)."""
    try:
        preview = enrollment_deletion_preview(actor=request.user, enrollment_id=enrollment_id)
    except ApplicationError as exc:
        return render(request, "core/not_found.html", {"message": exc.message}, status=exc.status)
    enrollment = preview.enrollment
    assert enrollment.clinician is not None  # the stock presenter is refused above
    name = enrollment.clinician.printed_name
    acknowledge = (
        f"I understand that {name}'s enrollment is destroyed and cannot be recovered."
        if preview.on_behalf
        else "I understand that my enrollment is destroyed and cannot be recovered."
    )
    form = ConfirmForm(request.POST or None, acknowledge=acknowledge)
    status = 200
    if request.method == "POST" and form.sent_from_confirmation:
        if form.is_valid():
            try:
                enrollment_delete(actor=request.user, enrollment_id=enrollment.id)
            except ApplicationError as exc:
                return render(request, "core/not_found.html", {"message": exc.message}, status=exc.status)
            whose = f"{name}'s" if preview.on_behalf else "Your"
            messages.success(
                request,
                f"{whose} enrollment is deleted: its biometric data and the templates made from it are "
                "destroyed. No new video can be made with it.",
            )
            return redirect("avatars:studio")
        status = 400
    changes, stays = _consequences(preview)
    what = "portrait photo" if enrollment.kind == EnrollmentKind.PORTRAIT else "footage"
    return render(
        request,
        "core/confirm.html",
        {
            "title": f"Delete {name}'s enrollment ({what})?"
            if preview.on_behalf
            else f"Delete my enrollment ({what})?",
            "lead": f"Enrolled on {date_format(enrollment.created_at, 'DATE_FORMAT')}. "
            "Deleting it destroys the biometric data the studio keeps for it.",
            "consequences": changes,
            "unchanged": stays,
            "form": form,
            "button": "Delete the enrollment",
            "back": reverse("avatars:studio"),
        },
        status=status,
    )


def retention_schedule_page(request: HttpRequest) -> HttpResponse:
    """The published retention and destruction schedule for biometric data (public, as BIPA asks)."""
    context: dict[str, object] = {"schedule": retention_schedule()}
    return render(request, "avatars/retention.html", context)
