"""The provenance registry: one row per published synthetic output, keyed by its watermark content id."""

from __future__ import annotations

from django.db import models


class OutputKind(models.TextChoices):
    AVATAR_VIDEO = "avatar_video", "Avatar video"
    POSTER = "poster", "Poster image"
    ANONYMIZED_VIDEO = "anonymized_video", "Anonymized video"


class ProvenanceRecord(models.Model):
    """What the platform knows about one synthetic output it signed and watermarked.

    The verify service finds a row by the content id (from the manifest or the watermark) or by the
    perceptual fingerprint, then names the clinic and checks the consent behind the output. Rows
    hold identifiers and hashes only, never PHI.
    """

    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="provenance_records")
    content_id = models.CharField(max_length=16, unique=True, help_text="64-bit watermark id, 16 hex digits.")
    video = models.ForeignKey(
        "avatars.Video",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="provenance_records",
        help_text="The avatar video this output belongs to (empty for outputs of other pipelines).",
    )
    output_kind = models.CharField(max_length=32, choices=OutputKind.choices)
    sha256 = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the signed file.")
    fingerprint = models.BinaryField(
        blank=True, default=b"", help_text="Perceptual hashes, (samples, 2) little-endian uint64."
    )
    file_key = models.CharField(
        max_length=300,
        blank=True,
        help_text="Storage key of the signed file when the platform keeps it outside a video's own row; "
        "a copy that only resembles it is compared with it (faces, voice).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_output_kind_display()} {self.content_id}"
