"""Consent texts, likeness and patient consents, signatures, disclosure labels and the ledger.

Nothing here is ever deleted: consents change status, texts get new versions, and ledger rows are
protected by database triggers (see consent.triggers).
"""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import models


class ConsentKind(models.TextChoices):
    LIKENESS = "likeness", "Likeness (clinician)"
    PATIENT_RECORDING = "patient_recording", "Recording of a consultation"
    PATIENT_ANONYMIZATION = "patient_anonymization", "Anonymization of a recording"
    PATIENT_USE = "patient_use", "Use of the anonymized video"


PATIENT_KINDS = (ConsentKind.PATIENT_RECORDING, ConsentKind.PATIENT_ANONYMIZATION, ConsentKind.PATIENT_USE)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ConsentText(models.Model):
    """One version of a consent text as people read it. Immutable: edits create a new version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="consent_texts")
    kind = models.CharField(max_length=32, choices=ConsentKind.choices)
    language = models.CharField(max_length=16, default="en")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "language", "version"], name="consent_text_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version} ({self.language})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("Consent texts are immutable; publish a new version instead.")
        self.sha256 = sha256_text(self.body)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Signature(models.Model):
    """An electronic signature: printed name, time and meaning, bound to one record and one text hash.

    `binding_sha256` covers the record's type and id, the text hash, the signer, the meaning and the
    time, so the signature cannot be moved onto another record or survive a change of the text.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="+")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures")
    printed_name = models.CharField(max_length=200)
    meaning = models.CharField(max_length=300)
    signed_at = models.DateTimeField()
    record_type = models.CharField(max_length=40)
    record_id = models.UUIDField()
    text_sha256 = models.CharField(max_length=64)
    binding_sha256 = models.CharField(max_length=64, unique=True)
    reauthenticated_with = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"Signature of {self.printed_name} at {self.signed_at:%Y-%m-%d %H:%M}"


class LikenessStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_VERIFICATION = "awaiting_verification", "Awaiting verification"
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"
    SUPERSEDED = "superseded", "Superseded"


class Representation(models.TextChoices):
    NONE = "", "None"
    LEGAL_COUNSEL = "legal_counsel", "Legal counsel"
    UNION = "union", "Union representative"


class VerificationMethod(models.TextChoices):
    AUTOMATED = "automated", "Automated checks of a live statement (identity, words, re-use, manipulation)"
    MANUAL = "manual", "Manual check by a clinic admin"


class StatementCapture(models.TextChoices):
    """How the consent statement reached the platform: only a live capture can pass on its own."""

    LIVE = "live", "Recorded live in the browser"
    FILE = "file", "Uploaded file (always verified by hand)"


class LikenessConsent(models.Model):
    """A clinician's consent to the clinic's use of their likeness, within a scope and a period."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="likeness_consents")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="likeness_consents"
    )
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+")
    text_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=32, choices=LikenessStatus.choices, default=LikenessStatus.DRAFT, db_index=True
    )
    topics = models.JSONField(default=list)
    audiences = models.JSONField(default=list)
    languages = models.JSONField(default=list)
    channels = models.JSONField(default=list)
    synthetic_voice_allowed = models.BooleanField(default=False)
    max_videos = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    compensation_terms = models.TextField(blank=True)
    representation = models.CharField(max_length=32, choices=Representation.choices, blank=True)
    signature = models.OneToOneField(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evidence_upload = models.ForeignKey(
        "core.Upload", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    statement_capture = models.CharField(max_length=8, choices=StatementCapture.choices, blank=True)
    statement_challenge = models.ForeignKey(
        "StatementChallenge", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    #: The words the clinician was asked to say (statement and challenge phrase; the phrase only
    #: once its challenge was used up, so it is no secret any more). Empty for an uploaded file.
    statement_expected_text = models.TextField(blank=True)
    #: Each automated check with its score, threshold, verdict and evidence, for the admin's review.
    statement_checks = models.JSONField(default=dict, blank=True)
    verification_method = models.CharField(max_length=16, choices=VerificationMethod.choices, blank=True)
    verification_scores = models.JSONField(default=dict, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Likeness consent {self.id} ({self.status})"


class StatementChallenge(models.Model):
    """A one-time phrase the clinician reads in a live consent statement.

    Only a keyed hash of the phrase is stored: someone who reads the database while a challenge is
    open cannot prepare a recording of it. A challenge is bound to one clinician and one consent,
    expires after a few minutes and is used up by the first statement that names it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    consent = models.ForeignKey(LikenessConsent, on_delete=models.PROTECT, related_name="challenges")
    phrase_hmac = models.CharField(max_length=64)
    word_count = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Statement challenge {self.id}"


class PatientConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class LegalBasis(models.TextChoices):
    CONSENT = "consent", "Consent"
    EXPLICIT_CONSENT = "explicit_consent", "Explicit consent (health data)"


class PatientConsent(models.Model):
    """A patient's consent to recording, anonymization, or use of the anonymized video for a purpose."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="patient_consents")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient_consents"
    )
    kind = models.CharField(max_length=32, choices=[(k.value, k.label) for k in PATIENT_KINDS])
    purpose = models.CharField(max_length=300)
    legal_basis = models.CharField(
        max_length=32, choices=LegalBasis.choices, default=LegalBasis.EXPLICIT_CONSENT
    )
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+")
    text_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=PatientConsentStatus.choices, default=PatientConsentStatus.GRANTED
    )
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"Patient consent {self.id} ({self.kind}, {self.status})"


class DisclosureLabel(models.Model):
    """The visible label and spoken disclaimers a clinic shows on synthetic video, per language.

    Placeholders: {clinician}, {clinic}, {contact}, {consent_date}. New versions replace old ones;
    old ones stay for the videos that carried them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="disclosure_labels")
    language = models.CharField(max_length=16, default="en")
    version = models.PositiveIntegerField()
    visible_text = models.CharField(max_length=400)
    spoken_start = models.CharField(max_length=400)
    spoken_end = models.CharField(max_length=400)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "language", "version"], name="disclosure_label_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Label v{self.version} ({self.language})"


class LedgerEntry(models.Model):
    """One append-only ledger entry: canonical JSON (ids, hashes and codes; never PHI) and its leaf hash.

    `seq` is gapless from 0; the RFC 6962 Merkle tree over the leaf hashes is in consent.merkle.
    """

    seq = models.BigIntegerField(primary_key=True)
    event_type = models.CharField(max_length=64, db_index=True)
    clinic_id = models.UUIDField(null=True, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    actor_id = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True, db_index=True)
    entry = models.TextField()
    leaf_hash = models.CharField(max_length=64)
    # A copy of the previous entry's leaf hash, kept apart from that entry's row: if someone
    # rewrites an entry and its leaf hash together, the copy and the signed tree heads still
    # show which entry it was (consent.merkle.locate_divergence). Null for entry 0 and for
    # entries appended before the copy was kept (nullable so adding it rewrote no row).
    previous_leaf_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"
        # A clinic's newest entries (the ledger list's keyset pages): without it PostgreSQL reads every
        # entry of the clinic and sorts them (105 ms at 82,000 entries, growing with the ledger).
        indexes = [models.Index(fields=["clinic_id", "-seq"], name="ledger_clinic_newest_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type}"


class SignedTreeHead(models.Model):
    """A signed statement of the ledger's size and root at a time (append-only, like the ledger)."""

    tree_size = models.BigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    timestamp_ms = models.BigIntegerField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"Tree head at size {self.tree_size}"


class Disclosure(models.Model):
    """Accounting of disclosures: what left the platform (or the clinic), to whom, when and why."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="disclosures")
    recipient = models.CharField(max_length=200)
    purpose = models.CharField(max_length=300)
    what = models.CharField(max_length=64)  # e.g. "export.pdf", "publication"
    object_ids = models.JSONField(default=list)
    file_sha256 = models.CharField(max_length=64, blank=True)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(auto_now_add=True)
    ledger_seq = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"{self.what} to {self.recipient}"
