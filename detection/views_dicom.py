"""DICOM pages of the scanner: upload a study (sign it), a later copy (check it) or a study with no
signature (examine it), see the verdict and its evidence, view it slice by slice with window
center/width, and open a case; each view calls one service or selector."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from core.http import stored_file_response
from core.requests import AuthenticatedHttpRequest
from detection.models import CaseStatus
from detection.policy import may_scan
from detection.selectors_dicom import (
    dicom_heatmap_key,
    dicom_methods,
    dicom_signed_studies,
    dicom_slice_count,
    dicom_slice_evidence,
    dicom_slice_png,
    dicom_study_get,
    dicom_study_list,
    dicom_suspect_slices,
)
from detection.services.cases import DICOM_CASE_VERDICTS, dicom_case_open
from detection.services.dicom import dicom_study_start

VERDICT_STYLE = {
    "signed": "ok",
    "unchanged": "ok",
    "encoding_changed": "ok",
    "metadata_changed": "warn",
    "instances_changed": "warn",
    "pixels_changed": "alert",
    "refused": "warn",
    "unsigned_evidence": "alert",
    "unsigned_clean": "ok",
}


def _refused(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "core/not_found.html", {"message": error.message}, status=error.status)


def _forbidden(request: HttpRequest) -> HttpResponse:
    message = "Only compliance officers and clinic admins can use the medical image checks."
    return render(request, "core/not_found.html", {"message": message}, status=403)


def _number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@login_required
@require_http_methods(["GET", "POST"])
def dicom_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not may_scan(request.user):
        return _forbidden(request)
    error = ""
    if request.method == "POST":
        try:
            study = dicom_study_start(
                actor=request.user,
                file=request.FILES.get("file"),
                reference_id=request.POST.get("reference") or None,
                examine=request.POST.get("purpose") == "examine",
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect("detection:dicom-study", study.id)
    return render(
        request,
        "detection/dicom.html",
        {
            "studies": dicom_study_list(user=request.user)[:50],
            "signed": dicom_signed_studies(user=request.user)[:50],
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def dicom_study_page(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    try:
        study = dicom_study_get(user=request.user, study_id=study_id)
    except ApplicationError as exc:
        return _refused(request, exc)
    count = dicom_slice_count(study) if study.status == "done" else 0
    try:
        current = min(max(int(request.GET.get("slice", "0")), 0), max(count - 1, 0))
    except ValueError:
        current = 0
    center, width = request.GET.get("wc", ""), request.GET.get("ww", "")
    window_query = (
        f"&wc={_number(center)}&ww={_number(width)}" if _number(center) is not None and _number(width) else ""
    )
    evidence = None
    if count and request.GET.get("evidence") == "1":
        try:
            evidence = dicom_slice_evidence(study=study, number=current)
        except ApplicationError as exc:
            return _refused(request, exc)
    return render(
        request,
        "detection/dicom_study.html",
        {
            "study": study,
            "style": VERDICT_STYLE.get(study.verdict, "warn"),
            "instances": list(study.instances.all()),
            "comparison": study.comparison,
            "slice_count": count,
            "current": current,
            "previous": current - 1 if current > 0 else None,
            "next": current + 1 if current + 1 < count else None,
            "center": center,
            "width": width,
            "window_query": window_query,
            "overlay": study.verdict == "pixels_changed",
            "evidence": evidence,
            "suspect": dicom_suspect_slices(study),
            "methods": dicom_methods() if study.purpose == "examine" else [],
            "cases": list(study.cases.all()),
            "can_open_case": study.status == "done"
            and study.verdict in DICOM_CASE_VERDICTS
            and not study.cases.exclude(status=CaseStatus.CLOSED).exists(),
        },
    )


@login_required
@require_GET
def dicom_slice_view(request: AuthenticatedHttpRequest, study_id: str, number: int) -> HttpResponse:
    try:
        study = dicom_study_get(user=request.user, study_id=study_id)
        png, _info = dicom_slice_png(
            study=study,
            number=number,
            center=_number(request.GET.get("wc")),
            width=_number(request.GET.get("ww")),
            overlay=request.GET.get("overlay") == "1",
            evidence=request.GET.get("evidence") == "1",
        )
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def dicom_heatmap_view(request: AuthenticatedHttpRequest, study_id: str, number: int) -> HttpResponseBase:
    """The stored heatmap picture of a suspect slice of an examined study."""
    try:
        key = dicom_heatmap_key(dicom_study_get(user=request.user, study_id=study_id), number)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
    return stored_file_response(request, key)


@login_required
@require_POST
def dicom_case_open_view(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    try:
        case = dicom_case_open(actor=request.user, study_id=study_id, notes=request.POST.get("notes", ""))
    except ApplicationError as exc:
        return _refused(request, exc)
    return redirect("detection:case", case.id)
