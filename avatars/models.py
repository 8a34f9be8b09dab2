"""Avatar studio: enrollments of a clinician's likeness, scripts, rendered videos, publications,
patients' first-view acknowledgments and anonymized consultations."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AvatarJobKind(models.TextChoices):
    """The studio's kinds of media job, registered with the kernel in avatars.registration."""

    RENDER = "render", "Avatar render"
    ENROLLMENT = "enrollment", "Likeness enrollment analysis"
    STATEMENT_CHECK = "statement_check", "Consent statement check"
    ANONYMIZE = "anonymize", "Patient anonymization"


class EnrollmentKind(models.TextChoices):
    STOCK = "stock", "Stock presenter (no real person)"
    FOOTAGE = "footage", "Clinician's own footage"
    PORTRAIT = "portrait", "Clinician's portrait photo"


class EnrollmentStatus(models.TextChoices):
    ANALYZING = "analyzing", "Analyzing"
    AWAITING_SIGNOFF = "awaiting_signoff", "Waiting for the clinician's sign-off"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Needs re-recording"
    DELETED = "deleted", "Deleted: biometric data destroyed"


class EnrollmentDeletionReason(models.TextChoices):
    """Why an enrollment's biometric data was destroyed (avatars.services.biometrics)."""

    BY_CLINICIAN = "deleted_by_clinician", "Deleted by the clinician"
    BY_CLINIC_ADMIN = "deleted_by_clinic_admin", "Deleted by a clinic admin on the clinician's behalf"
    RETENTION_EXPIRED = "retention_expired", "Retention period ended"


class Enrollment(models.Model):
    """The consented material a clinician's avatar is made from, and its stored analysis."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="enrollments")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrollments",
        help_text="Empty for the stock presenter.",
    )
    kind = models.CharField(max_length=16, choices=EnrollmentKind.choices)
    footage = models.ForeignKey(
        "core.Upload", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    photo = models.ForeignKey(
        "core.Upload", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voice = models.ForeignKey(
        "core.Upload", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ANALYZING
    )
    advice = models.TextField(
        blank=True, help_text="What to re-record, when the analysis rejected the material."
    )
    analysis_key = models.CharField(max_length=300, blank=True)
    # Set when the clinician approved the material; enrollments a clinic admin made on their behalf
    # stay unusable until then.
    signed_off_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(
        "core.MediaJob", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # A deleted enrollment keeps its row (scripts and videos refer to it) but no biometric data: its
    # uploads, their files, the stored analysis and every cached template are destroyed.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deletion_reason = models.CharField(max_length=32, choices=EnrollmentDeletionReason.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} enrollment {self.id}"


class NarrationSource(models.TextChoices):
    RECORDING = "recording", "The clinician's own recording"
    TTS = "tts", "Synthetic voice"


class ScriptStatus(models.TextChoices):
    DRAFT = "draft", "Draft: needs the clinician's approval"
    APPROVED = "approved", "Approved"


class Script(models.Model):
    """What the avatar says, in one language, for one topic and audience."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="scripts")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="scripts",
        help_text="Whose likeness presents it.",
    )
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="scripts")
    title = models.CharField(max_length=200)
    language = models.CharField(max_length=16, default="en")
    topic = models.CharField(max_length=64)
    audience = models.CharField(max_length=64, default="patients")
    channel = models.CharField(max_length=64, default="portal")
    text = models.TextField()
    narration_source = models.CharField(
        max_length=16, choices=NarrationSource.choices, default=NarrationSource.TTS
    )
    narration = models.ForeignKey(
        "core.Upload", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ScriptStatus.choices, default=ScriptStatus.DRAFT)
    approved_sha256 = models.CharField(max_length=64, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


class VideoStatus(models.TextChoices):
    RENDERING = "rendering", "Rendering"
    FAILED = "failed", "Render failed"
    IN_REVIEW = "in_review", "Waiting for the clinician's review"
    HELD = "held", "Held back: below the quality bar"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Video(models.Model):
    """One render of a script, and its life: review, publication, withdrawal."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="videos")
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="videos")
    script_sha256 = models.CharField(max_length=64)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="videos"
    )
    likeness_consent = models.ForeignKey(
        "consent.LikenessConsent", on_delete=models.PROTECT, null=True, blank=True, related_name="videos"
    )
    label = models.ForeignKey("consent.DisclosureLabel", on_delete=models.PROTECT, related_name="+")
    label_text = models.CharField(max_length=500)
    synthetic_voice = models.BooleanField(default=False)
    job = models.OneToOneField("core.MediaJob", on_delete=models.PROTECT, related_name="video")
    status = models.CharField(max_length=16, choices=VideoStatus.choices, default=VideoStatus.RENDERING)
    video_key = models.CharField(max_length=300, blank=True)
    poster_key = models.CharField(max_length=300, blank=True)
    captions_key = models.CharField(max_length=300, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    signed = models.BooleanField(default=False, help_text="Carries a C2PA manifest signed by the clinic.")
    quality = models.JSONField(
        default=dict, blank=True, help_text="Lip-sync, identity and stability measured on the render."
    )
    quality_reason = models.TextField(
        blank=True, help_text="Why the render was held back from review (empty when it passed)."
    )
    review_note = models.CharField(max_length=500, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Video {self.id} ({self.status})"

    @property
    def cancelled(self) -> bool:
        """A render someone stopped (its job was cancelled), as opposed to one that failed."""
        return self.status == VideoStatus.FAILED and self.job.status == "cancelled"

    @property
    def status_text(self) -> str:
        """The status as people read it: a stopped render says so instead of "Render failed"."""
        return "Render cancelled" if self.cancelled else self.get_status_display()


class Publication(models.Model):
    """A video shared with one patient of the clinic, or through an expiring share link."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="publications")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="publications"
    )
    link_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at"]

    def __str__(self) -> str:
        return f"Publication {self.id}"


class ViewAcknowledgment(models.Model):
    """A patient's first view of a synthetic video: the disclosure was shown to them."""

    video = models.ForeignKey(Video, on_delete=models.PROTECT, related_name="acknowledgments")
    patient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    first_viewed_at = models.DateTimeField(auto_now_add=True)
    ledger_seq = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "patient"], name="one_acknowledgment_per_view")
        ]

    def __str__(self) -> str:
        return f"Acknowledgment of {self.video_id} by {self.patient_id}"


class AnonymizationMode(models.TextChoices):
    SYNTHETIC = "synthetic", "Synthetic face (keeps expression)"
    MASK = "mask", "Solid mask"
    BLUR = "blur", "Strong blur"


class AnonymizationStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    IN_REVIEW = "in_review", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PUBLISHED = "published", "Published for teaching"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Anonymization(models.Model):
    """One consultation recording anonymized for teaching, under the patient's anonymization consent.

    The original (`input_upload`, and `original_proxy_key` for the side-by-side review) is seen only
    by the clinician who uploaded it and the clinic's admins (avatars.policy); the output is signed
    as composite synthetic media and carries a visible "anonymized" label. `report` holds the
    engine's residual-risk measurements (numbers and codes only, no picture or sound).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="anonymizations")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="anonymizations_of_me"
    )
    consent = models.ForeignKey(
        "consent.PatientConsent", on_delete=models.PROTECT, related_name="anonymizations"
    )
    use_consent = models.ForeignKey(
        "consent.PatientConsent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="published_anonymizations",
        help_text="The patient's consent to the use of the anonymized video, checked at publication.",
    )
    kept_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The clinician whose enrolled face and voice stay unaltered, if any.",
    )
    mode = models.CharField(max_length=16, choices=AnonymizationMode.choices)
    input_upload = models.ForeignKey("core.Upload", on_delete=models.PROTECT, related_name="+")
    input_key = models.CharField(max_length=300)
    original_proxy_key = models.CharField(max_length=300, blank=True)
    output_key = models.CharField(max_length=300, blank=True)
    output_sha256 = models.CharField(max_length=64, blank=True)
    content_id = models.CharField(max_length=32, blank=True)
    label_text = models.CharField(max_length=200)
    signed = models.BooleanField(default=False)
    report = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=AnonymizationStatus.choices, default=AnonymizationStatus.PROCESSING
    )
    job = models.OneToOneField("core.MediaJob", on_delete=models.PROTECT, related_name="anonymization")
    #: Ledger sequence numbers of this record's steps, by event type (requested, signing, ...).
    ledger_refs = models.JSONField(default=dict, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Anonymization {self.id} ({self.status})"
