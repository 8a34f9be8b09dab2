"""Scanner pages: upload (single and batch), scan list, result, case; each calls one service or selector."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from core.http import stored_file_response
from core.requests import AuthenticatedHttpRequest
from detection.forms import CaseStepForm
from detection.models import CaseOutcome, CaseStatus
from detection.plot import timeline_plot
from detection.policy import may_scan
from detection.selectors import case_get, scan_get, scan_list
from detection.selectors_dicom import dicom_suspect_slices
from detection.services.cases import (
    case_close,
    case_open,
    case_review,
    case_takedown_pdf,
    case_takedown_record,
)
from detection.services.scans import BATCH_MAX_FILES, scans_start
from detection.verdicts import verdict_style


def _refused(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "core/not_found.html", {"message": error.message}, status=error.status)


def _forbidden(request: HttpRequest) -> HttpResponse:
    message = "Only compliance officers and clinic admins can use the impersonation scanner."
    return render(request, "core/not_found.html", {"message": message}, status=403)


@login_required
@require_http_methods(["GET", "POST"])
def scanner_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not may_scan(request.user):
        return _forbidden(request)
    error = ""
    if request.method == "POST":
        try:
            started = scans_start(actor=request.user, files=request.FILES.getlist("files"))
        except ApplicationError as exc:
            error = exc.message
        else:
            if len(started) == 1:
                return redirect("detection:scan-detail", started[0].id)
            messages.success(request, f"{len(started)} files are being scanned.")
            return redirect("detection:scanner")
    scans = scan_list(user=request.user)[:50]
    return render(
        request,
        "detection/scanner.html",
        {"scans": scans, "error": error, "batch_max": BATCH_MAX_FILES},
        status=400 if error else 200,
    )


@login_required
@require_GET
def scan_page(request: AuthenticatedHttpRequest, scan_id: str) -> HttpResponse:
    try:
        scan = scan_get(user=request.user, scan_id=scan_id)
    except ApplicationError as exc:
        return _refused(request, exc)
    return render(
        request,
        "detection/scan.html",
        {
            "scan": scan,
            "style": verdict_style(scan.verdict_kind),
            "plot": timeline_plot(scan.timeline),
            "evidence": list(scan.evidence.all()),
            "cases": list(scan.cases.all()),
            "can_open_case": scan.status == "done"
            and not scan.cases.exclude(status=CaseStatus.CLOSED).exists(),
        },
    )


@login_required
@require_GET
def evidence_image(request: AuthenticatedHttpRequest, scan_id: str, evidence_id: int) -> HttpResponseBase:
    try:
        scan = scan_get(user=request.user, scan_id=scan_id)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status)
    item = scan.evidence.filter(id=evidence_id).exclude(heatmap_key="").first()
    if item is None:
        return HttpResponse("Not found.", status=404)
    return stored_file_response(request, item.heatmap_key)


@login_required
@require_POST
def case_open_view(request: AuthenticatedHttpRequest, scan_id: str) -> HttpResponse:
    try:
        case = case_open(actor=request.user, scan_id=scan_id, notes=request.POST.get("notes", ""))
    except ApplicationError as exc:
        return _refused(request, exc)
    return redirect("detection:case", case.id)


@login_required
@require_http_methods(["GET", "POST"])
def case_page(request: AuthenticatedHttpRequest, case_id: str) -> HttpResponse:
    try:
        case = case_get(user=request.user, case_id=case_id)
    except ApplicationError as exc:
        return _refused(request, exc)
    error = ""
    if request.method == "POST":
        form = CaseStepForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == "review":
                    case_review(actor=request.user, case_id=case.id, notes=data["notes"])
                elif data["action"] == "takedown":
                    case_takedown_record(
                        actor=request.user, case_id=case.id, platform=data["platform"], url=data["url"]
                    )
                else:
                    case_close(
                        actor=request.user, case_id=case.id, outcome=data["outcome"], notes=data["notes"]
                    )
            except ApplicationError as exc:
                error = exc.message
            else:
                return redirect("detection:case", case.id)
        else:
            error = "Check the form: " + "; ".join(
                f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items()
            )
        case = case_get(user=request.user, case_id=case.id)
    return render(
        request,
        "detection/case.html",
        {
            "case": case,
            "scan": case.scan,
            "study": case.dicom_study,
            "suspect": dicom_suspect_slices(case.dicom_study) if case.dicom_study else [],
            "error": error,
            "outcomes": CaseOutcome.choices,
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def takedown_pdf_view(request: AuthenticatedHttpRequest, case_id: str) -> HttpResponse:
    try:
        pdf = case_takedown_pdf(actor=request.user, case_id=case_id)
    except ApplicationError as exc:
        return _refused(request, exc)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="takedown-{case_id}.pdf"'
    return response
