"""Kernel API: one class per operation, each validating input and calling one service or selector."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import ApiPagination, paginated_response
from core.errors import ApplicationError, CoreErrorCode
from core.http import stored_file_response
from core.models import MediaJob, Role
from core.ratelimit import client_address, rate_limit_hit, rate_limit_reset
from core.requests import AuthenticatedRequest
from core.selectors import invitation_list, job_get, job_list, member_list, upload_get, upload_list
from core.services import invitation_create, job_cancel, totp_verify, video_proxy_start


class JobOutputSerializer(serializers.ModelSerializer[MediaJob]):
    websocket = serializers.CharField(source="websocket_path")
    outputs = serializers.SerializerMethodField()

    class Meta:
        model = MediaJob
        fields = [
            "id",
            "kind",
            "status",
            "stage",
            "percent",
            "eta_seconds",
            "error_code",
            "error_message",
            "attempts",
            "input_upload",
            "created_at",
            "started_at",
            "finished_at",
            "websocket",
            "outputs",
        ]

    def get_outputs(self, job: MediaJob) -> dict[str, str]:
        names = [
            key.rsplit("/", 1)[-1]
            for key in job.result.values()
            if isinstance(key, str) and key.startswith(f"jobs/{job.id}/")
        ]
        return {name: f"/api/v1/jobs/{job.id}/outputs/{name}" for name in names}


class AuthTokenApi(APIView):
    """Exchange credentials (and a TOTP code for privileged roles) for an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "AuthTokenInput"

        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=200, trim_whitespace=False)
        otp = serializers.CharField(max_length=12, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer, responses=inline_serializer("Token", {"token": serializers.CharField()})
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ident = f"{client_address(request._request)}|{data.validated_data['username'].lower()}"
        rate_limit_hit(
            scope="login",
            ident=ident,
            limit=settings.LOGIN_RATE_LIMIT,
            window_seconds=settings.LOGIN_RATE_WINDOW_SECONDS,
        )
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.clinic_id:
            raise ApplicationError("Wrong username or password.", code="invalid_credentials", status=401)
        if user.is_privileged:
            totp_verify(user=user, code=data.validated_data.get("otp", ""))
        rate_limit_reset(scope="login", ident=ident)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeApi(APIView):
    @extend_schema(responses=inline_serializer("Me", {"username": serializers.CharField()}))
    def get(self, request: AuthenticatedRequest) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "display_name": user.printed_name,
                "role": user.role,
                "clinic": {"id": str(user.clinic_id), "name": user.member_clinic.name},
            }
        )


class JobListApi(APIView):
    pagination_class = ApiPagination

    @extend_schema(responses=JobOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return paginated_response(self, request, job_list(user=request.user), JobOutputSerializer)


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutputSerializer)
    def get(self, request: AuthenticatedRequest, job_id: str) -> Response:
        return Response(JobOutputSerializer(job_get(user=request.user, job_id=job_id)).data)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses=JobOutputSerializer)
    def post(self, request: AuthenticatedRequest, job_id: str) -> Response:
        return Response(JobOutputSerializer(job_cancel(actor=request.user, job_id=job_id)).data)


class JobOutputApi(APIView):
    """Download or stream one output file of a finished job (range requests supported)."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: AuthenticatedRequest, job_id: str, name: str) -> Any:
        job = job_get(user=request.user, job_id=job_id)
        key = f"jobs/{job.id}/{name}"
        if key not in job.result.values():
            raise ApplicationError("Output not found.", code=CoreErrorCode.NOT_FOUND, status=404)
        return stored_file_response(request._request, key)


class VideoUploadApi(APIView):
    """Upload a video; it is validated, stored, and converted to a browser-playable proxy."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "VideoUploadInput"

        file = serializers.FileField(allow_empty_file=True)

    @extend_schema(request=InputSerializer, responses={202: JobOutputSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = video_proxy_start(actor=request.user, file=data.validated_data["file"])
        return Response(JobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class UploadOutputSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    duration_seconds = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    fps = serializers.FloatField(allow_null=True)
    has_audio = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class UploadListApi(APIView):
    pagination_class = ApiPagination

    @extend_schema(responses=UploadOutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return paginated_response(self, request, upload_list(user=request.user), UploadOutputSerializer)


class UploadDetailApi(APIView):
    @extend_schema(responses=UploadOutputSerializer)
    def get(self, request: AuthenticatedRequest, upload_id: str) -> Response:
        return Response(UploadOutputSerializer(upload_get(user=request.user, upload_id=upload_id)).data)


class MemberListApi(APIView):
    pagination_class = ApiPagination

    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "MemberListOutput"

        id = serializers.IntegerField(source="pk")
        username = serializers.CharField()
        display_name = serializers.CharField(source="printed_name")
        role = serializers.CharField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return paginated_response(self, request, member_list(user=request.user), self.OutputSerializer)


class InvitationApi(APIView):
    """Clinic admins list and create invitations; the link is shown once, at creation."""

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "InvitationInput"

        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)

    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "InvitationOutput"

        id = serializers.UUIDField()
        email = serializers.EmailField()
        role = serializers.CharField()
        expires_at = serializers.DateTimeField()
        accepted_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        if request.user.role != Role.CLINIC_ADMIN:
            raise ApplicationError(
                "Only clinic admins manage invitations.", code=CoreErrorCode.PERMISSION_DENIED, status=403
            )
        return Response(self.OutputSerializer(invitation_list(user=request.user), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = invitation_create(actor=request.user, **data.validated_data)
        body = dict(self.OutputSerializer(invitation).data)
        body["link"] = request.build_absolute_uri(f"/account/invitation/{token}/")
        return Response(body, status=status.HTTP_201_CREATED)
