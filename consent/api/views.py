"""Consent and ledger API: one class per operation, each calling one service or selector."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.errors import ConsentErrorCode
from consent.evidence import ExportRequest, evidence_export
from consent.ledger import (
    ledger_consistency_proof,
    ledger_heads_export,
    ledger_inclusion_proof,
    ledger_verify,
)
from consent.models import LikenessConsent, PatientConsent
from consent.policy import can_view_compliance, require
from consent.selectors import (
    LedgerFilters,
    ledger_entry_list,
    likeness_consent_list,
    patient_consent_list,
)
from consent.services.challenges import statement_challenge_issue
from consent.services.likeness import (
    LikenessScope,
    likeness_consent_revoke,
    likeness_consent_sign,
    likeness_consent_statement_upload,
    likeness_consent_verify_manual,
)
from consent.services.patient import patient_consent_grant, patient_consent_withdraw
from core.api.pagination import ApiPagination, KeysetPagination, paginated_response
from core.errors import ApplicationError
from core.requests import AuthenticatedRequest


class SignatureOut(serializers.Serializer[Any]):
    printed_name = serializers.CharField()
    meaning = serializers.CharField()
    signed_at = serializers.DateTimeField()
    text_sha256 = serializers.CharField()
    binding_sha256 = serializers.CharField()
    reauthenticated_with = serializers.CharField()


class LikenessConsentOut(serializers.ModelSerializer[LikenessConsent]):
    signature = SignatureOut(allow_null=True)
    clinician_name = serializers.CharField(source="clinician.printed_name")

    class Meta:
        model = LikenessConsent
        fields = [
            "id",
            "clinician",
            "clinician_name",
            "status",
            "topics",
            "audiences",
            "languages",
            "channels",
            "synthetic_voice_allowed",
            "max_videos",
            "uses_count",
            "valid_from",
            "valid_until",
            "compensation_terms",
            "representation",
            "text",
            "text_sha256",
            "signature",
            "statement_capture",
            "verification_method",
            "verified_at",
            "revoked_at",
            "revocation_reason",
            "created_at",
        ]


class PatientConsentOut(serializers.ModelSerializer[PatientConsent]):
    signature = SignatureOut()

    class Meta:
        model = PatientConsent
        fields = [
            "id",
            "patient",
            "kind",
            "purpose",
            "legal_basis",
            "status",
            "text",
            "text_sha256",
            "signature",
            "granted_at",
            "withdrawn_at",
        ]


class LikenessConsentListApi(APIView):
    """List likeness consents (scoped by role) or sign a new one (clinicians)."""

    pagination_class = ApiPagination

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "LikenessConsentListInput"

        topics = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50)
        audiences = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20)
        languages = serializers.ListField(child=serializers.CharField(max_length=16), max_length=20)
        channels = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20)
        synthetic_voice_allowed = serializers.BooleanField(default=False)
        max_videos = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000)
        valid_years = serializers.IntegerField(default=10, min_value=1, max_value=10)
        compensation_terms = serializers.CharField(
            required=False, allow_blank=True, max_length=2000, default=""
        )
        representation = serializers.ChoiceField(choices=["", "legal_counsel", "union"], default="")
        password = serializers.CharField(max_length=200, trim_whitespace=False, write_only=True)
        otp = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")

    @extend_schema(responses=LikenessConsentOut(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return paginated_response(self, request, likeness_consent_list(user=request.user), LikenessConsentOut)

    @extend_schema(request=InputSerializer, responses={201: LikenessConsentOut})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        password, otp = values.pop("password"), values.pop("otp")
        consent = likeness_consent_sign(
            clinician=request.user, scope=LikenessScope(**values), password=password, otp=otp
        )
        return Response(LikenessConsentOut(consent).data, status=status.HTTP_201_CREATED)


class LikenessConsentRevokeApi(APIView):
    @extend_schema(request=None, responses=LikenessConsentOut)
    def post(self, request: AuthenticatedRequest, consent_id: str) -> Response:
        return Response(
            LikenessConsentOut(likeness_consent_revoke(actor=request.user, consent_id=consent_id)).data
        )


class LikenessConsentVerifyApi(APIView):
    """A clinic admin verifies a consent statement by hand (recorded as manual)."""

    @extend_schema(request=None, responses=LikenessConsentOut)
    def post(self, request: AuthenticatedRequest, consent_id: str) -> Response:
        consent = likeness_consent_verify_manual(actor=request.user, consent_id=consent_id)
        return Response(LikenessConsentOut(consent).data)


class LikenessConsentChallengeApi(APIView):
    """A one-time challenge for a live consent statement: the words to say, shown once."""

    class OutputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "LikenessConsentChallengeOutput"

        id = serializers.UUIDField()
        phrase = serializers.CharField()
        statement_text = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(request=None, responses={201: OutputSerializer})
    def post(self, request: AuthenticatedRequest, consent_id: str) -> Response:
        issued = statement_challenge_issue(clinician=request.user, consent_id=consent_id)
        return Response(self.OutputSerializer(issued).data, status=status.HTTP_201_CREATED)


class LikenessConsentEvidenceApi(APIView):
    """The clinician sends the recorded consent statement (multipart `file`). A live capture names
    its one-time challenge (`capture=live`, `challenge_id`, `challenge_phrase`); an uploaded file
    (`capture=file`, the default) is always verified by a clinic admin. Refusals carry their own
    status (413, 415, 422, 429, ...) and leave nothing behind."""

    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "LikenessConsentEvidenceInput"

        file = serializers.FileField(allow_empty_file=True)
        capture = serializers.ChoiceField(choices=["live", "file"], default="file")
        challenge_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        challenge_phrase = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={202: LikenessConsentOut})
    def post(self, request: AuthenticatedRequest, consent_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        consent = likeness_consent_statement_upload(
            clinician=request.user,
            consent_id=consent_id,
            file=values["file"],
            capture=values["capture"],
            challenge_id=values["challenge_id"],
            challenge_phrase=values["challenge_phrase"],
        )
        return Response(LikenessConsentOut(consent).data, status=status.HTTP_202_ACCEPTED)


class PatientConsentListApi(APIView):
    pagination_class = ApiPagination

    class InputSerializer(serializers.Serializer[Any]):
        class Meta:
            ref_name = "PatientConsentListInput"

        kind = serializers.ChoiceField(choices=["patient_recording", "patient_anonymization", "patient_use"])
        purpose = serializers.CharField(max_length=300)
        legal_basis = serializers.ChoiceField(
            choices=["consent", "explicit_consent"], default="explicit_consent"
        )
        password = serializers.CharField(max_length=200, trim_whitespace=False, write_only=True)
        otp = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")

    @extend_schema(responses=PatientConsentOut(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return paginated_response(self, request, patient_consent_list(user=request.user), PatientConsentOut)

    @extend_schema(request=InputSerializer, responses={201: PatientConsentOut})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = patient_consent_grant(patient=request.user, **data.validated_data)
        return Response(PatientConsentOut(consent).data, status=status.HTTP_201_CREATED)


class PatientConsentWithdrawApi(APIView):
    @extend_schema(request=None, responses=PatientConsentOut)
    def post(self, request: AuthenticatedRequest, consent_id: str) -> Response:
        return Response(
            PatientConsentOut(patient_consent_withdraw(patient=request.user, consent_id=consent_id)).data
        )


class LedgerEntryOut(serializers.Serializer[Any]):
    seq = serializers.IntegerField()
    event_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    subject_id = serializers.CharField()
    entry = serializers.SerializerMethodField()
    leaf_hash = serializers.CharField()

    def get_entry(self, obj: Any) -> Any:
        return json.loads(obj.entry)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # The fields above are the schema; a page of entries is built directly, without DRF's
        # per-field machinery, which cost about a third of a ledger page's time (issue 16).
        return {
            "seq": instance.seq,
            "event_type": instance.event_type,
            "created_at": _iso(instance.created_at),
            "object_type": instance.object_type,
            "object_id": instance.object_id,
            "subject_id": instance.subject_id,
            "entry": json.loads(instance.entry),
            "leaf_hash": instance.leaf_hash,
        }


_DATETIME = serializers.DateTimeField()


def _iso(moment: Any) -> str:
    """A timestamp as DRF's DateTimeField writes it (ISO 8601 in the current time zone, 'Z' for UTC)."""
    return str(_DATETIME.to_representation(moment))


# The largest id a 64-bit primary key holds: larger numbers would overflow the database query.
_MAX_ID = 2**63 - 1


class LedgerFilterSerializer(serializers.Serializer[Any]):
    event_type = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    # A person's id (as in /api/v1/members/); the exports filter consents by it as a key.
    subject = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=_MAX_ID,
        default=None,
        error_messages={"invalid": "Give the person's numeric id (as listed by /api/v1/members/)."},
    )
    object = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def to_filters(self) -> LedgerFilters:
        v = self.validated_data
        return LedgerFilters(
            event_type=v["event_type"],
            subject_id=str(v["subject"] or ""),
            object_id=v["object"],
            since=v["since"],
            until=v["until"],
        )


class LedgerEntryListApi(APIView):
    """Ledger entries of the clinic (oversight roles) or about oneself (others), newest first, in
    keyset pages (`?limit=`, then follow `next`)."""

    pagination_class = KeysetPagination

    @extend_schema(parameters=[LedgerFilterSerializer], responses=LedgerEntryOut(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = LedgerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = ledger_entry_list(user=request.user, filters=filters.to_filters())
        return paginated_response(self, request, entries, LedgerEntryOut, KeysetPagination)


class LedgerProofApi(APIView):
    """Inclusion proof of one visible entry in the tree of `tree_size` entries (default: all)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("tree_size", int, required=False, description="Default: the whole log.")
        ],
        responses=dict,
    )
    def get(self, request: AuthenticatedRequest, seq: int) -> Response:
        if not ledger_entry_list(user=request.user).filter(seq=seq).exists():
            raise ApplicationError("Ledger entry not found.", code=ConsentErrorCode.NOT_FOUND, status=404)
        size = request.query_params.get("tree_size")
        try:
            proof = ledger_inclusion_proof(seq=seq, tree_size=int(size) if size else None)
        except ValueError as exc:
            raise ApplicationError(str(exc), code=ConsentErrorCode.INVALID_INPUT) from exc
        return Response(proof.__dict__)


class LedgerConsistencyApi(APIView):
    """Proof that the tree of `old` entries is a prefix of the tree of `new` (default: all) entries."""

    @extend_schema(
        parameters=[
            OpenApiParameter("old", int, required=True),
            OpenApiParameter("new", int, required=False, description="Default: the whole log."),
        ],
        responses=dict,
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        try:
            old = int(request.query_params["old"])
            new = int(request.query_params["new"]) if request.query_params.get("new") else None
            return Response(ledger_consistency_proof(old_size=old, new_size=new))
        except (KeyError, ValueError) as exc:
            raise ApplicationError(
                "Give old (and optionally new) tree sizes: 0 < old ≤ new ≤ log size.",
                code=ConsentErrorCode.INVALID_INPUT,
            ) from exc


class LedgerHeadsApi(APIView):
    """Every signed tree head and the public key, for outside parties to hold the platform to."""

    @extend_schema(responses=dict)
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(ledger_heads_export())


class LedgerVerifyApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request: AuthenticatedRequest) -> Response:
        require(
            can_view_compliance(request.user),
            "Only compliance officers and clinic admins can do this.",
            code=ConsentErrorCode.PERMISSION_DENIED,
        )
        report = ledger_verify()
        first = report.first_problem
        return Response(
            {
                "ok": report.ok,
                "entries": report.entry_count,
                "root_hash": report.root_hex,
                "first_bad_seq": report.first_bad_sequence,
                "reason": report.reason if first else None,
                "problem_count": report.problem_count,
            }
        )


class EvidenceExportApi(APIView):
    """Download consent evidence as csv, json, fhir (R5/R4B) or pdf; recorded as a disclosure."""

    class InputSerializer(LedgerFilterSerializer):
        class Meta:
            ref_name = "EvidenceExportInput"

        format = serializers.ChoiceField(choices=["csv", "json", "fhir", "pdf"])
        recipient = serializers.CharField(max_length=200)
        purpose = serializers.CharField(max_length=300)
        fhir_version = serializers.ChoiceField(choices=["R5", "R4B"], default="R5")
        include_names = serializers.BooleanField(default=False)

    @extend_schema(request=InputSerializer, responses={(200, "application/octet-stream"): bytes})
    def post(self, request: AuthenticatedRequest) -> HttpResponse:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        export = evidence_export(
            actor=request.user,
            request=ExportRequest(
                format=v["format"],
                recipient=v["recipient"],
                purpose=v["purpose"],
                filters=data.to_filters(),
                fhir_version=v["fhir_version"],
                include_names=v["include_names"],
            ),
        )
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["X-Content-SHA256"] = export.sha256
        response["X-Ledger-Seq"] = str(export.ledger_seq)
        return response
