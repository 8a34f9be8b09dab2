"""Provenance API: one class per operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.ratelimit import client_address
from provenance.services import Verdict, verification_from_upload


class VerifyApi(APIView):
    """Upload a file (multipart `file`) and get its provenance verdict; no sign-in, rate-limited."""

    permission_classes = [AllowAny]
    # Anonymous by design: no session (so no CSRF token is needed) and no token.
    authentication_classes: list[Any] = []
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "VerifyInput"

        file = serializers.FileField(allow_empty_file=True)

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "VerifyOutcome",
            {
                "verdict": serializers.ChoiceField(choices=[verdict.value for verdict in Verdict]),
                "headline": serializers.CharField(),
                "clinic": serializers.CharField(allow_null=True),
                "consent_active": serializers.BooleanField(allow_null=True),
                "output_kind": serializers.CharField(allow_null=True),
                "evidence": serializers.DictField(),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = verification_from_upload(
            file=data.validated_data["file"], client_address=client_address(request._request)
        )
        return Response(outcome.as_dict())
