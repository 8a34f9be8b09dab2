"""Revoking a likeness consent: a confirmation page that says what revoking changes, then the
revocation. Works without JavaScript: the page's form carries `confirmed`, a POST without it (the
button on the consent page) shows the page instead of revoking."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from consent.services.likeness import likeness_consent_revocation_preview, likeness_consent_revoke
from core.errors import ApplicationError
from core.forms import ConfirmForm
from core.requests import AuthenticatedHttpRequest

ACKNOWLEDGE = "I understand that this takes effect at once and cannot be undone (I can sign a new consent)."


@login_required
@require_http_methods(["GET", "POST"])
def likeness_revoke(request: AuthenticatedHttpRequest, consent_id: str) -> HttpResponse:
    """Confirm, then revoke the clinician's likeness consent."""
    try:
        consent, consequences = likeness_consent_revocation_preview(actor=request.user, consent_id=consent_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("consent:likeness")
    form = ConfirmForm(request.POST or None, acknowledge=ACKNOWLEDGE)
    status = 200
    if request.method == "POST" and form.sent_from_confirmation:
        if form.is_valid():
            try:
                likeness_consent_revoke(actor=request.user, consent_id=consent.id)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    "Your likeness consent is revoked. Renders stopped and published videos were withdrawn.",
                )
            return redirect("consent:likeness")
        status = 400
    return render(
        request,
        "core/confirm.html",
        {
            "title": "Revoke my likeness consent?",
            "lead": f"Consent given on {consent.created_at:%Y-%m-%d} for: {', '.join(consent.topics)}.",
            "consequences": consequences,
            "form": form,
            "button": "Revoke my consent",
            "back": reverse("consent:likeness"),
            "back_text": "Keep my consent",
            "action": reverse("consent:likeness_revoke", args=[consent.id]),
        },
        status=status,
    )
