"""Scanner API: one class per operation, each calling one service or selector."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import ApiPagination, paginated_response
from core.requests import AuthenticatedRequest
from detection.api.serializers import CaseOut, ScanOut, ScanSummaryOut
from detection.models import CaseOutcome
from detection.policy import scanner_required
from detection.selectors import scan_get, scan_list
from detection.services.cases import (
    case_close,
    case_open,
    case_review,
    case_takedown_pdf,
    case_takedown_record,
)
from detection.services.scans import scans_start


class ScanListCreateApi(APIView):
    """GET: the clinic's scans (newest first). POST: scan one file or a batch (multipart `files`, repeated)."""

    parser_classes = [MultiPartParser]
    pagination_class = ApiPagination

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "ScanCreateInput"

        files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), allow_empty=True)

    @extend_schema(responses=ScanSummaryOut(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        scanner_required(request.user)
        return paginated_response(self, request, scan_list(user=request.user), ScanSummaryOut)

    @extend_schema(
        request=InputSerializer,
        responses={202: inline_serializer("ScanCreated", {"scans": ScanSummaryOut(many=True)})},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        files = request.FILES.getlist("files") or request.FILES.getlist("file")
        scans = scans_start(actor=request.user, files=files)
        return Response({"scans": ScanSummaryOut(scans, many=True).data}, status=status.HTTP_202_ACCEPTED)


class ScanDetailApi(APIView):
    """One scan with its verdict, scores, timeline, explanation, evidence and cases."""

    @extend_schema(responses=ScanOut)
    def get(self, request: AuthenticatedRequest, scan_id: Any) -> Response:
        return Response(ScanOut(scan_get(user=request.user, scan_id=scan_id)).data)


class CaseCreateApi(APIView):
    """Open a case on a finished scan."""

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CaseCreateInput"

        notes = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: CaseOut})
    def post(self, request: AuthenticatedRequest, scan_id: Any) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_open(actor=request.user, scan_id=scan_id, notes=data.validated_data["notes"])
        return Response(CaseOut(case).data, status=status.HTTP_201_CREATED)


class CaseUpdateApi(APIView):
    """One step of a case: `review`, `takedown` (platform, url) or `close` (outcome)."""

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CaseUpdateInput"

        action = serializers.ChoiceField(choices=["review", "takedown", "close"])
        notes = serializers.CharField(required=False, allow_blank=True, default="")
        platform = serializers.CharField(required=False, allow_blank=True, default="")
        url = serializers.URLField(required=False, allow_blank=True, default="")
        outcome = serializers.ChoiceField(choices=CaseOutcome.choices, required=False)

    @extend_schema(request=InputSerializer, responses=CaseOut)
    def patch(self, request: AuthenticatedRequest, case_id: Any) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        step = data.validated_data
        if step["action"] == "review":
            case = case_review(actor=request.user, case_id=case_id, notes=step["notes"])
        elif step["action"] == "takedown":
            case = case_takedown_record(
                actor=request.user, case_id=case_id, platform=step["platform"], url=step["url"]
            )
        else:
            case = case_close(
                actor=request.user, case_id=case_id, outcome=step.get("outcome", ""), notes=step["notes"]
            )
        return Response(CaseOut(case).data)


class TakedownPdfApi(APIView):
    """The case's takedown notice as a PDF addressed to the platform."""

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request: AuthenticatedRequest, case_id: Any) -> HttpResponse:
        pdf = case_takedown_pdf(actor=request.user, case_id=case_id)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="takedown-{case_id}.pdf"'
        return response
