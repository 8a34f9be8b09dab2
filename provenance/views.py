"""The public verify page: anyone uploads a file and reads what its provenance says."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from core.ratelimit import client_address
from provenance.engine.watermark import SYNC_THRESHOLD
from provenance.services import verification_from_upload


class VerifyForm(forms.Form):
    file = forms.FileField(
        label="Video or image file",
        allow_empty_file=True,  # upload_check words the refusal of an empty file
        help_text="MP4, MOV, WebM, AVI or MPEG video; JPEG or PNG image. The file is checked, then deleted.",
        widget=forms.ClearableFileInput(attrs={"accept": "video/*,image/jpeg,image/png"}),
    )


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    """No sign-in: patients, journalists and platforms check a file here."""
    form = VerifyForm(request.POST or None, request.FILES or None)
    outcome, status = None, 200
    if request.method == "POST" and form.is_valid():
        try:
            outcome = verification_from_upload(
                file=form.cleaned_data["file"], client_address=client_address(request)
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
            status = exc.status
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "provenance/verify.html",
        {
            "form": form,
            "outcome": outcome,
            "max_mb": settings.UPLOAD_MAX_BYTES // 1_000_000,
            "watermark_threshold": SYNC_THRESHOLD,
        },
        status=status,
    )
