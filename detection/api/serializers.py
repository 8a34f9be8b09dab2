"""Scanner API serializers (output only: input is validated by the services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from detection.models import ImpersonationCase, Scan, ScanEvidence


class ClinicianOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField(source="printed_name")


class EvidenceOut(serializers.ModelSerializer[ScanEvidence]):
    heatmap_url = serializers.SerializerMethodField()

    class Meta:
        model = ScanEvidence
        fields = [
            "id",
            "analyzer",
            "note",
            "start_seconds",
            "end_seconds",
            "frame_index",
            "score",
            "heatmap_url",
        ]

    def get_heatmap_url(self, item: ScanEvidence) -> str | None:
        from django.urls import reverse

        return reverse("detection:evidence", args=[item.scan_id, item.id]) if item.heatmap_key else None


class CaseOut(serializers.ModelSerializer[ImpersonationCase]):
    class Meta:
        model = ImpersonationCase
        fields = [
            "id",
            "scan",
            "dicom_study",
            "status",
            "outcome",
            "notes",
            "takedown_platform",
            "takedown_url",
            "takedown_recorded_at",
            "created_at",
            "closed_at",
        ]


class ScanSummaryOut(serializers.ModelSerializer[Scan]):
    job = serializers.UUIDField(source="job_id")
    matched_clinician = ClinicianOut(allow_null=True)

    class Meta:
        model = Scan
        fields = [
            "id",
            "original_name",
            "kind",
            "sha256",
            "batch_id",
            "job",
            "status",
            "verdict_kind",
            "headline",
            "matched_clinician",
            "created_at",
            "finished_at",
        ]


class ScanOut(ScanSummaryOut):
    evidence = EvidenceOut(many=True)
    cases = CaseOut(many=True)

    class Meta(ScanSummaryOut.Meta):
        fields = [*ScanSummaryOut.Meta.fields, "scores", "timeline", "explanation", "evidence", "cases"]
