"""Impersonation scanner: scans of suspicious files, their evidence, and the cases opened on them.

Every row carries its clinic; selectors never return another clinic's scans or cases.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class DetectionJobKind(models.TextChoices):
    """The scanner's media job kind, registered with the kernel in detection.registration."""

    SCAN = "scan", "Impersonation scan"


class ScanKind(models.TextChoices):
    VIDEO = "video", "Video"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Scanning"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class VerdictKindChoice(models.TextChoices):
    """detection.engine.VerdictKind, spelled the same, as stored choices."""

    AUTHORIZED = "authorized", "Authorized"
    CONSENT_WITHDRAWN = "consent withdrawn", "Consent withdrawn"
    PROVENANCE_TAMPERED = "provenance tampered", "Provenance tampered"
    SUSPECTED_DEEPFAKE = "suspected unauthorized deepfake", "Suspected unauthorized deepfake"
    CLINICIAN_UNVERIFIED = "clinician depicted, origin unverified", "Clinician depicted, origin unverified"
    NO_CLINICIAN = "no enrolled clinician found", "No enrolled clinician found"


#: Verdicts that alert the clinic's compliance officers.
ALERTING_VERDICTS = frozenset(
    {
        VerdictKindChoice.SUSPECTED_DEEPFAKE,
        VerdictKindChoice.CONSENT_WITHDRAWN,
        VerdictKindChoice.PROVENANCE_TAMPERED,
    }
)


class MediaCheck(models.Model):
    """What every checked upload of the scanner keeps about its job: the job, its status, how long it
    took, why it failed, when it was made and finished (a Scan, a DicomStudy)."""

    job = models.ForeignKey(
        "core.MediaJob", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    duration_seconds = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Scan(MediaCheck):
    """One scanned file (a batch is several scans sharing `batch_id`) and its verdict."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="scans")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    upload = models.ForeignKey("core.Upload", on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8, choices=ScanKind.choices)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    verdict_kind = models.CharField(max_length=40, choices=VerdictKindChoice.choices, blank=True)
    headline = models.CharField(max_length=255, blank=True)
    matched_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # {analyzer: {"score", "threshold", "flagged", "skipped", "accuracy", "limits"}}
    scores = models.JSONField(default=dict, blank=True)
    # {analyzer: [[seconds, score], ...]} for the score-over-time plot
    timeline = models.JSONField(default=dict, blank=True)
    explanation = models.JSONField(default=list, blank=True)  # plain-language lines

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "-created_at"])]

    def __str__(self) -> str:
        return f"Scan {self.original_name or self.id}"

    @property
    def alerting(self) -> bool:
        return self.verdict_kind in ALERTING_VERDICTS


class ScanEvidence(models.Model):
    """One piece of evidence of a scan: where in the media, what it shows, optionally a heatmap."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="evidence")
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="+")
    analyzer = models.CharField(max_length=32)
    note = models.TextField()
    start_seconds = models.FloatField(null=True, blank=True)
    end_seconds = models.FloatField(null=True, blank=True)
    frame_index = models.IntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    heatmap_key = models.CharField(max_length=300, blank=True)  # PNG under the job's outputs

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.analyzer}: {self.note[:60]}"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    CLOSED = "closed", "Closed"


class CaseOutcome(models.TextChoices):
    TAKEDOWN_REQUESTED = "takedown_requested", "Takedown requested"
    REMOVED = "removed", "Content removed"
    AUTHORIZED_USE = "authorized_use", "Authorized use after review"
    FALSE_POSITIVE = "false_positive", "False positive"
    NO_ACTION = "no_action", "No action"


class ImpersonationCase(models.Model):
    """A compliance case on a scan or on a DICOM study (exactly one of them): open → under review →
    closed with an outcome, in the ledger."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="impersonation_cases")
    scan = models.ForeignKey(Scan, on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    dicom_study = models.ForeignKey(
        "DicomStudy", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    outcome = models.CharField(max_length=24, choices=CaseOutcome.choices, blank=True)
    notes = models.TextField(blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The takedown notice: the platform it is addressed to and where the content is.
    takedown_platform = models.CharField(max_length=120, blank=True)
    takedown_url = models.URLField(max_length=500, blank=True)
    takedown_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scan__isnull=False, dicom_study__isnull=True)
                | models.Q(scan__isnull=True, dicom_study__isnull=False),
                name="case_has_exactly_one_subject",
            )
        ]

    def __str__(self) -> str:
        return f"Case {self.id} ({self.status})"


# --- medical images (DICOM): ingest with a signed integrity record, and re-checks of later copies ---


class DicomJobKind(models.TextChoices):
    """The DICOM job kinds, registered with the kernel in detection.registration."""

    INGEST = "dicom_ingest", "DICOM ingest"
    CHECK = "dicom_check", "DICOM integrity check"
    EXAMINE = "dicom_examine", "DICOM tampering examination"


class DicomPurpose(models.TextChoices):
    INGEST = "ingest", "Signed at ingest"
    CHECK = "check", "Checked against a signed study"
    EXAMINE = "examine", "Examined without a signature"


class DicomVerdict(models.TextChoices):
    SIGNED = "signed", "Signed at ingest"
    REFUSED = "refused", "Refused: not valid DICOM"
    UNCHANGED = "unchanged", "Unchanged since signed"
    ENCODING_CHANGED = "encoding_changed", "Same pixels and attributes, encoding changed"
    METADATA_CHANGED = "metadata_changed", "Metadata changed"
    PIXELS_CHANGED = "pixels_changed", "Pixels changed"
    INSTANCES_CHANGED = "instances_changed", "Instances missing or added"
    UNSIGNED_EVIDENCE = "unsigned_evidence", "Unsigned: tampering evidence"
    UNSIGNED_CLEAN = "unsigned_clean", "Unsigned: no evidence found"


#: DICOM verdicts that call for a compliance review.
DICOM_ALERTING_VERDICTS = frozenset(
    {
        DicomVerdict.PIXELS_CHANGED,
        DicomVerdict.METADATA_CHANGED,
        DicomVerdict.INSTANCES_CHANGED,
        DicomVerdict.UNSIGNED_EVIDENCE,
    }
)


class DicomStudy(MediaCheck):
    """One uploaded DICOM file or zipped study: signed at ingest, or checked against a signed one.

    The original file name is not kept (it often carries the patient's name); the study is shown by
    its id, modality and instance count.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="dicom_studies")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=8, choices=DicomPurpose.choices)
    reference = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="checks"
    )
    storage_key = models.CharField(max_length=500, unique=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    is_zip = models.BooleanField(default=False)
    verdict = models.CharField(max_length=20, choices=DicomVerdict.choices, blank=True)
    headline = models.CharField(max_length=255, blank=True)
    modalities = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    findings = models.JSONField(default=list, blank=True)  # the container's findings
    comparison = models.JSONField(default=dict, blank=True)  # engine StudyComparison.as_dict()
    # An examined (unsigned) study's passive evidence: engine PassiveResult.as_dict(), each suspect
    # slice's heatmap as a stored PNG key ("heatmap").
    passive = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "-created_at"])]

    def __str__(self) -> str:
        return f"DICOM study {self.id}"

    @property
    def alerting(self) -> bool:
        return self.verdict in DICOM_ALERTING_VERDICTS


class DicomInstanceRecord(models.Model):
    """One instance of a DICOM study: its findings and (when accepted) its integrity record."""

    study = models.ForeignKey(DicomStudy, on_delete=models.CASCADE, related_name="instances")
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()  # viewing order within the study
    upload_index = models.PositiveIntegerField()  # order in the upload (zip members by name)
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    series_instance_uid = models.CharField(max_length=64, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    transfer_syntax = models.CharField(max_length=64, blank=True)
    frames = models.PositiveIntegerField(default=0)
    refused = models.BooleanField(default=False)
    findings = models.JSONField(default=list, blank=True)
    record = models.JSONField(default=dict, blank=True)  # engine IntegrityRecord.as_dict(); {} if refused

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="dicom_instance_position_unique")
        ]

    def __str__(self) -> str:
        return f"DICOM instance {self.position} of {self.study_id}"
