"""Patient anonymization pages: upload under the patient's consent, live progress, side-by-side
review, approval and publication for teaching, and the residual-risk report (HTML and PDF).

Who sees what is decided by avatars.policy: the original only ever reaches the clinician who
uploaded it and the clinic's admins; a withdrawn output reaches no one.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.utils.datastructures import MultiValueDict
from django.views.decorators.http import require_http_methods

from avatars import policy
from avatars.forms import AnonymizationForm, BaseRedactionBoxFormSet, RedactionBoxFormSet, ReviewForm
from avatars.models import Anonymization, AnonymizationStatus
from avatars.selectors import anonymization_get, anonymization_list
from avatars.services import (
    anonymization_publish,
    anonymization_report_facts,
    anonymization_report_pdf,
    anonymization_report_sections,
    anonymization_request,
    anonymization_review,
)
from avatars.services.anonymize import (
    MAX_REDACTION_BOXES,
    NOT_DEIDENTIFIED,
    anonymization_redactions,
    redaction_box_label,
)
from core.errors import ApplicationError
from core.http import stored_file_response
from core.models import Role, User
from core.requests import AuthenticatedHttpRequest


def _refusal(request: AuthenticatedHttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "core/not_found.html", {"message": message}, status=status)


def _upload_form(
    user: User, data: QueryDict | None = None, files: MultiValueDict[str, UploadedFile] | None = None
) -> AnonymizationForm:
    form = AnonymizationForm(data, files)
    cast(forms.ChoiceField, form.fields["patient"]).choices = [
        (str(p.pk), p.printed_name)
        for p in User.objects.filter(clinic_id=user.member_clinic_id, role=Role.PATIENT).order_by("username")
    ]
    clinicians = User.objects.filter(clinic_id=user.member_clinic_id, role=Role.CLINICIAN).order_by(
        "username"
    )
    cast(forms.ChoiceField, form.fields["keep"]).choices = [("", "No one: replace every face")] + [
        (str(c.pk), c.printed_name) for c in clinicians
    ]
    if user.role == Role.CLINICIAN and data is None:
        form.initial["keep"] = str(user.pk)
    return form


@login_required
@require_http_methods(["GET", "POST"])
def anonymize_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The list of anonymizations the user may see; for clinicians and admins, the upload form."""
    user = request.user
    form = boxes = None
    box_error = ""
    status = 200
    if policy.can_anonymize(user):
        form = _upload_form(user, request.POST or None, request.FILES or None)
        boxes = cast(BaseRedactionBoxFormSet, RedactionBoxFormSet(request.POST or None, prefix="boxes"))
        if request.method == "POST" and form.is_valid() and boxes.is_valid():
            try:
                anonymization = anonymization_request(
                    actor=user,
                    patient_id=form.cleaned_data["patient"],
                    file=form.cleaned_data["recording"],
                    mode=form.cleaned_data["mode"],
                    keep_clinician_id=form.cleaned_data["keep"] or None,
                    redactions=boxes.boxes(),
                )
            except ApplicationError as exc:
                field = exc.extra.get("field")
                if field == "redactions":
                    box_error = exc.message
                else:
                    form.add_error(field if field in form.fields else "recording", exc.message)
                status = exc.status
            else:
                return redirect("avatars:anonymization", anonymization_id=anonymization.id)
        elif request.method == "POST":
            status = 400
    elif request.method == "POST":
        return _refusal(request, policy.STUDIO_REFUSAL, 403)
    return render(
        request,
        "avatars/anonymize.html",
        {
            "form": form,
            "boxes": boxes,
            "box_error": box_error,
            "max_boxes": MAX_REDACTION_BOXES,
            "anonymizations": anonymization_list(user=user)[:50],
        },
        status=status,
    )


def _get(request: AuthenticatedHttpRequest, anonymization_id: str) -> Anonymization | HttpResponse:
    try:
        anonymization = anonymization_get(user=request.user, anonymization_id=anonymization_id)
    except ApplicationError as exc:
        return _refusal(request, exc.message, 404)
    if not policy.sees_anonymization_output(request.user, anonymization):
        return _refusal(request, "Anonymization not found.", 404)
    return anonymization


@login_required
@require_http_methods(["GET", "POST"])
def anonymization_page(request: AuthenticatedHttpRequest, anonymization_id: str) -> HttpResponse:
    """Progress while it runs; then the output (beside the original, for the reviewers), review and
    publication, and the residual-risk report."""
    found = _get(request, anonymization_id)
    if isinstance(found, HttpResponse):
        return found
    anonymization, user = found, request.user
    review_form = ReviewForm(request.POST if "decision" in request.POST else None)
    if request.method == "POST":
        try:
            if "decision" in request.POST and review_form.is_valid():
                anonymization_review(
                    actor=user,
                    anonymization_id=anonymization.id,
                    approve=review_form.cleaned_data["decision"] == "approve",
                    note=review_form.cleaned_data["note"],
                )
            elif "publish" in request.POST:
                anonymization_publish(actor=user, anonymization_id=anonymization.id)
                messages.success(request, "Published for teaching.")
            return redirect("avatars:anonymization", anonymization_id=anonymization.id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
    withdrawn = anonymization.status == AnonymizationStatus.WITHDRAWN
    return render(
        request,
        "avatars/anonymization.html",
        {
            "anonymization": anonymization,
            "job": anonymization.job,
            "can_review": policy.can_review_anonymization(user, anonymization),
            "sees_original": policy.sees_anonymization_original(user, anonymization)
            and bool(anonymization.original_proxy_key)
            and not withdrawn,
            "shows_output": bool(anonymization.output_key) and not withdrawn,
            "review_form": review_form,
            "facts": anonymization_report_facts(anonymization) if anonymization.report else [],
            "sections": anonymization_report_sections(anonymization) if anonymization.report else [],
            "not_deidentified": NOT_DEIDENTIFIED,
            "redactions": [redaction_box_label(entry) for entry in anonymization_redactions(anonymization)],
        },
        status=410 if withdrawn else 200,
    )


@login_required
def anonymization_media(
    request: AuthenticatedHttpRequest, anonymization_id: str, name: str
) -> HttpResponseBase:
    """The output for everyone who sees it; the original's preview for the reviewers only."""
    found = _get(request, anonymization_id)
    if isinstance(found, HttpResponse):
        return HttpResponse("Not found.", status=404)
    anonymization = found
    if anonymization.status == AnonymizationStatus.WITHDRAWN:
        return HttpResponse("This video was withdrawn.", status=410)
    if name == "anonymized.mp4" and anonymization.output_key:
        return stored_file_response(request, anonymization.output_key)
    if (
        name == "original.mp4"
        and anonymization.original_proxy_key
        and policy.sees_anonymization_original(request.user, anonymization)
    ):
        return stored_file_response(request, anonymization.original_proxy_key)
    return HttpResponse("Not found.", status=404)


@login_required
def anonymization_report(request: AuthenticatedHttpRequest, anonymization_id: str) -> HttpResponse:
    """The residual-risk report as PDF."""
    found = _get(request, anonymization_id)
    if isinstance(found, HttpResponse):
        return found
    if not found.report:
        return _refusal(request, "The report is ready once the anonymization has finished.", 404)
    response = HttpResponse(anonymization_report_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="anonymization-{found.id}.pdf"'
    return response
