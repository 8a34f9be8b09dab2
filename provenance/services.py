"""Provenance services: watermark, sign and register every synthetic output; verify any file.

Signing is a required step: a caller that cannot sign must not publish (see avatars.services).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from core.media.hashing import file_sha256
from provenance.engine.c2pa_sign import (
    ConsentAssertion,
    ManifestReport,
    ManifestState,
    SourceType,
    read_manifest,
    sign_media,
)
from provenance.engine.fingerprint import FingerprintIndex
from provenance.engine.likeness import LikenessComparison, TimeRange, compare_likeness
from provenance.engine.verify import VIDEO_SUFFIXES, Finding, ProvenanceFindings, inspect_media
from provenance.engine.watermark import OutputMarker, content_id_hex, embed_video, new_content_id
from provenance.keys import clinic_identity, trust_anchors_pem
from provenance.models import OutputKind, ProvenanceRecord


@dataclass(frozen=True)
class OutputProvenance:
    """What a signed output's manifest says about it (identifiers and hashes only)."""

    clinic_id: str
    clinic_name: str
    ledger_entry_id: str
    consent_ids: tuple[str, ...]
    consent_hashes: tuple[str, ...]
    disclosure_text: str
    output_kind: str
    source_type: SourceType = SourceType.TRAINED_ALGORITHMIC_MEDIA
    content_id: str = ""  # hex watermark id carried by the frames


def output_sign(*, source: Path, dest: Path, provenance: OutputProvenance, title: str) -> Path:
    """Write a C2PA-signed copy of `source` to `dest` and return `dest`."""
    identity = clinic_identity(clinic_id=provenance.clinic_id, clinic_name=provenance.clinic_name)
    assertion = ConsentAssertion(
        clinic_id=provenance.clinic_id,
        ledger_entry_id=provenance.ledger_entry_id,
        consent_ids=provenance.consent_ids,
        consent_hashes=provenance.consent_hashes,
        disclosure_text=provenance.disclosure_text,
        content_id=provenance.content_id,
        output_kind=provenance.output_kind,
    )
    return sign_media(
        source, dest, identity=identity, consent=assertion, source_type=provenance.source_type, title=title
    ).path


def output_manifest(path: Path) -> ManifestReport:
    """Read a file's manifest with the platform roots as trust anchors."""
    return read_manifest(path, trust_anchors_pem=trust_anchors_pem())


def stored_output_manifest(key: str) -> ManifestReport:
    """Read the manifest of a stored output, on local disk or (through a temporary copy) on S3."""
    from django.core.files.storage import default_storage

    try:
        return output_manifest(Path(default_storage.path(key)))
    except NotImplementedError:
        pass  # remote storage
    with tempfile.TemporaryDirectory(prefix="candor-manifest-") as folder:
        copy = Path(folder) / f"output{Path(key).suffix}"
        with default_storage.open(key, "rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        return output_manifest(copy)


# --- watermark ---------------------------------------------------------------------------------------


def watermark_key() -> bytes:
    """The platform watermark key: PROVENANCE_WATERMARK_KEY(_FILE), else a generated dev key file."""
    configured = settings.PROVENANCE_WATERMARK_KEY
    if configured:
        return configured.encode()
    path = Path(settings.PROVENANCE_WATERMARK_KEY_PATH)
    if not path.exists():
        if not settings.PROVENANCE_GENERATE_DEV_KEYS:
            raise RuntimeError("No watermark key configured (CANDOR_PROVENANCE_WATERMARK_KEY or _FILE).")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class WatermarkedOutput:
    path: Path
    content_id: str  # 16 hex digits
    psnr_db: float
    seconds: float


def output_watermark_video(*, source: Path, dest: Path) -> WatermarkedOutput:
    """Embed a fresh content id in every frame of `source` (re-encoded to `dest`, audio copied).

    For media that arrives finished; a renderer that makes the frames uses `output_marker` and
    encodes once.
    """
    content_id = new_content_id()
    started = time.perf_counter()
    result = embed_video(source, dest, key=watermark_key(), content_id=content_id)
    return WatermarkedOutput(dest, content_id_hex(content_id), result.psnr_db, time.perf_counter() - started)


def output_marker(*, width: int, height: int, fps: float) -> OutputMarker:
    """A marker for an output being rendered: it watermarks each frame (and the poster, under an id
    of its own) before the renderer encodes it, so the output is encoded once. Its
    `video_content_id` and `poster_content_id` go into the manifests and the registry."""
    return OutputMarker(key=watermark_key(), width=width, height=height, fps=fps)


def output_watermark_image(*, source: Path, dest: Path) -> WatermarkedOutput:
    """Embed a fresh content id in a still (a poster), written as a high-quality JPEG."""
    import numpy as np
    from PIL import Image

    from provenance.engine.watermark import WatermarkEmbedder, psnr

    content_id = new_content_id()
    started = time.perf_counter()
    with Image.open(source) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    height, width = rgb.shape[:2]
    embedder = WatermarkEmbedder(key=watermark_key(), content_id=content_id, width=width, height=height)
    marked = embedder.embed_still(rgb)
    Image.fromarray(marked).save(dest, format="JPEG", quality=95)
    diff = marked.astype(np.float32) - rgb.astype(np.float32)
    return WatermarkedOutput(
        dest, content_id_hex(content_id), psnr(float(np.mean(diff * diff))), time.perf_counter() - started
    )


# --- registry --------------------------------------------------------------------------------------


def output_register(
    *,
    clinic_id: Any,
    content_id: str,
    output_kind: str,
    path: Path,
    video_id: Any = None,
    file_key: str = "",
) -> ProvenanceRecord:
    """Register a signed output: its content id, the hash of the signed file and, for videos, its fingerprint.

    Called as soon as the signed file is stored, whatever happens to the render next: every
    signed output that exists must be recognizable, including one whose consent ends at once.
    `file_key` names the stored signed file for outputs that have no avatar video row (whose
    `video_key` says where an avatar video is): verification compares copies with it.
    """
    from provenance.engine.fingerprint import fingerprint_video
    from provenance.index import fingerprint_pack

    packed = b""
    if output_kind != OutputKind.POSTER:
        packed = fingerprint_pack(fingerprint_video(path).hashes)
    return ProvenanceRecord.objects.create(
        clinic_id=clinic_id,
        content_id=content_id,
        video_id=video_id,
        output_kind=output_kind,
        sha256=file_sha256(path),
        fingerprint=packed,
        file_key=file_key,
    )


# --- verification ----------------------------------------------------------------------------------


class Verdict(StrEnum):
    """The verify page's answer, exactly one per file."""

    SIGNED_CONSENT_ACTIVE = "signed_consent_active"
    SIGNED_CONSENT_WITHDRAWN = "signed_consent_withdrawn"
    ALTERED = "altered"
    RECOGNIZED = "recognized"  # not the signed file, but it carries the platform's watermark
    # Only the fingerprint matches: it looks like a registered video, which proves resemblance,
    # not authenticity (a face swap keeps the fingerprint).
    RESEMBLES = "resembles"
    # A copy whose faces or voice differ from the registered original's at the matched times.
    ALTERED_COPY = "altered_copy"
    NO_PROVENANCE = "no_provenance"


@dataclass(frozen=True)
class VerifyOutcome:
    """A verdict in plain words and the evidence behind it; clinic names only, never people.

    Clinicians' names stay out even though published education videos name them: the page is
    public and anonymous, so naming the person in any uploaded clip would turn it into a
    face-to-name lookup for deepfakes of them, and whether a clinician withdrew consent is their
    own business. The clinic is the party a viewer can contact.
    """

    verdict: Verdict
    headline: str
    clinic_id: str  # for the ledger and the scanner; not shown
    clinic_name: str
    consent_active: bool | None  # None when the platform holds no record to say
    manifest_state: str
    signer: str
    source_type: str
    content_id: str  # what the signature or the watermark names; never a mere fingerprint match
    watermark_found: bool
    watermark_score: float  # sync correlation peak in noise standard deviations
    fingerprint_checked: bool  # videos only: stills have no fingerprint
    fingerprint_match: bool
    fingerprint_votes: int
    fingerprint_samples: int
    output_kind: str
    resembles_content_id: str = ""  # the registered output a fingerprint match points to
    likeness: LikenessComparison | None = None  # faces and voice against that output, if compared

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API."""
        likeness = self.likeness
        return {
            "verdict": self.verdict.value,
            "headline": self.headline,
            "clinic": self.clinic_name or None,
            "consent_active": self.consent_active,
            "output_kind": self.output_kind or None,
            "evidence": {
                "manifest": {
                    "state": self.manifest_state,
                    "signer": self.signer or None,
                    "digital_source_type": self.source_type or None,
                },
                "watermark": {
                    "found": self.watermark_found,
                    "content_id": self.content_id if self.watermark_found else None,
                    "correlation": round(self.watermark_score, 2),
                },
                "fingerprint": {
                    "checked": self.fingerprint_checked,
                    "matched": self.fingerprint_match,
                    "votes": self.fingerprint_votes,
                    "samples": self.fingerprint_samples,
                    "resembles_content_id": self.resembles_content_id or None,
                },
                "likeness": {
                    "compared": bool(likeness and likeness.compared),
                    "faces_compared": likeness.faces_compared if likeness else 0,
                    "faces_differ": _ranges(likeness.face_ranges) if likeness else [],
                    "voice_compared": bool(likeness and likeness.voice_compared),
                    "voice_differs": _ranges(likeness.voice_ranges) if likeness else [],
                },
            },
        }

    @property
    def differences(self) -> list[str]:
        """Where the faces and the voice differ from the original, in words (for the page)."""
        if self.likeness is None:
            return []
        found = []
        if self.likeness.face_ranges:
            found.append("the face differs from the original at " + _labels(self.likeness.face_ranges))
        if self.likeness.voice_ranges:
            found.append("the voice differs from the original at " + _labels(self.likeness.voice_ranges))
        return found


def _ranges(ranges: tuple[TimeRange, ...]) -> list[dict[str, float]]:
    return [{"start": round(r.start, 2), "end": round(r.end, 2)} for r in ranges]


def _labels(ranges: tuple[TimeRange, ...]) -> str:
    return ", ".join(r.label() for r in ranges)


#: Whether a registered output still stands (its consent in force, not withdrawn): each app that makes
#: outputs registers a check that answers for its own records and None for the others', so provenance
#: never imports the apps that use it (the avatars app registers its videos and anonymizations).
OutputStandingCheck = Callable[[ProvenanceRecord], "bool | None"]
_standing_checks: list[OutputStandingCheck] = []


def output_standing_register(check: OutputStandingCheck) -> None:
    """Add an app's answer to "does this output still stand?" (registering it again changes nothing)."""
    if check not in _standing_checks:
        _standing_checks.append(check)


def _consent_active(record: ProvenanceRecord | None, manifest: ManifestReport) -> bool | None:
    """Is the consent behind the output still in force (and the output not withdrawn)?"""
    from consent.models import LikenessConsent, LikenessStatus

    if record is not None:
        for check in _standing_checks:
            answer = check(record)
            if answer is not None:
                return answer
        return True
    # No registry row (an output signed before registration existed): the signed consent ids.
    if manifest.consent is None:
        return None
    now = timezone.now()
    consents = LikenessConsent.objects.filter(id__in=_uuids(manifest.consent.consent_ids))
    return all(consent.status == LikenessStatus.ACTIVE and consent.valid_until > now for consent in consents)


def _uuids(values: tuple[str, ...]) -> list[str]:
    import uuid

    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


def _clinic_name(clinic_id: Any) -> str:
    from core.models import Clinic

    if not _uuids((str(clinic_id),)):
        return ""
    clinic = Clinic.objects.filter(id=clinic_id).only("name").first()
    return clinic.name if clinic else ""


def _headline(
    verdict: Verdict,
    clinic: str,
    consent_active: bool | None,
    how: str,
    content_id: str,
    differences: list[str],
) -> str:
    who = clinic or "a clinic on this platform"
    owner = f"{clinic}'s" if clinic else "this platform's"
    if verdict is Verdict.SIGNED_CONSENT_ACTIVE:
        return f"Signed by {who}. The consent behind this video is active."
    if verdict is Verdict.SIGNED_CONSENT_WITHDRAWN:
        return f"Signed by {who}, but the consent behind it has been withdrawn."
    if verdict is Verdict.ALTERED:
        return "A signature is present, but the file was altered after signing."
    if verdict is Verdict.RECOGNIZED:
        withdrawn = " Its consent has since been withdrawn." if consent_active is False else ""
        return f"Recognized as {owner} content by its {how}; the signature is missing.{withdrawn}"
    if verdict is Verdict.ALTERED_COPY:
        return (
            f"An altered copy of {owner} video {content_id}, not the signed file: {'; '.join(differences)}."
        )
    if verdict is Verdict.RESEMBLES:
        return (
            f"Resembles {owner} video {content_id}, but is not the signed file and may have been "
            "altered: only its fingerprint matches (no signature, no watermark)."
        )
    return "No platform provenance found."


def _original_copy(record: ProvenanceRecord, folder: Path) -> Path | None:
    """The registered output's signed file on local disk (a copy in `folder` from remote storage),
    or None when the platform keeps none."""
    from django.core.files.storage import default_storage

    key = record.file_key or (record.video.video_key if record.video is not None else "")
    if not key or not default_storage.exists(key):
        return None
    try:
        return Path(default_storage.path(key))  # local storage: read in place
    except NotImplementedError:
        pass  # remote storage (S3): fetch a copy
    copy = folder / f"original{Path(key).suffix}"
    with default_storage.open(key, "rb") as source, copy.open("wb") as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
    return copy


def _likeness(path: Path, record: ProvenanceRecord, offset_seconds: float) -> LikenessComparison | None:
    """The faces and voice of `path` against the registered original, when it is at hand."""
    with tempfile.TemporaryDirectory(prefix="candor-verify-") as folder:
        original = _original_copy(record, Path(folder))
        if original is None:
            return None
        return compare_likeness(path, original, offset_seconds=offset_seconds)


def media_verify(path: Path) -> VerifyOutcome:
    """Check one file's signature, watermark and fingerprint, and say whose content it is.

    The engine finds the evidence; this adds what only the database knows: which clinic a content
    id or fingerprint belongs to, and whether the consent behind it still holds. A file that is
    not the signed original but matches a registered video's fingerprint is compared with that
    original (faces and voice at the matched times): a copy whose people differ is an altered
    copy, named with the time ranges; one that only matches the fingerprint merely resembles the
    registered video. Also used by the impersonation scanner.
    """
    from provenance.index import fingerprint_index

    findings: ProvenanceFindings = inspect_media(
        path,
        trust_anchors_pem=trust_anchors_pem(),
        watermark_key=watermark_key(),
        # The shared index offers the one method the engine calls, `match`, under its lock.
        index=cast(FingerprintIndex, fingerprint_index()),
    )
    manifest, watermark, match = findings.manifest, findings.watermark, findings.fingerprint
    # Only a trusted manifest's content id counts: anyone can copy our assertion into their own
    # manifest, or leave it in a file they changed.
    signed_id = manifest.consent.content_id if manifest.is_platform_signed and manifest.consent else ""
    watermark_id = watermark.content_id_hex if watermark is not None and watermark.found else ""
    fingerprint_id = match.video_id if match is not None else ""
    ids = [i for i in (signed_id, watermark_id, fingerprint_id) if i]
    records = {
        r.content_id: r
        for r in ProvenanceRecord.objects.select_related("video__likeness_consent").filter(content_id__in=ids)
    }
    # A fingerprint whose row is gone (rolled back) is no evidence; a watermark id is, by itself.
    fingerprint_record = records.get(fingerprint_id)
    record = records.get(signed_id) or records.get(watermark_id) or fingerprint_record

    finding = findings.finding
    if finding is Finding.FINGERPRINT and fingerprint_record is None:
        finding = Finding.NONE
    likeness: LikenessComparison | None = None
    if finding in (Finding.WATERMARK, Finding.FINGERPRINT) and match and fingerprint_record:
        # Not the signed file: whoever made this copy may have changed the people in it.
        likeness = _likeness(Path(path), fingerprint_record, match.offset_seconds)
    altered_copy = likeness is not None and likeness.differs
    if finding is Finding.SIGNED:
        active = _consent_active(record, manifest)
        verdict = Verdict.SIGNED_CONSENT_WITHDRAWN if active is False else Verdict.SIGNED_CONSENT_ACTIVE
        clinic_id = str(record.clinic_id) if record else manifest.clinic_id
    elif finding is Finding.ALTERED:
        verdict, active = Verdict.ALTERED, _consent_active(record, manifest) if record else None
        # Only the watermark or the fingerprint may name the clinic of a broken file.
        clinic_id = str(record.clinic_id) if record else ""
    elif finding is Finding.WATERMARK and not altered_copy:
        verdict, active = Verdict.RECOGNIZED, _consent_active(record, manifest) if record else None
        clinic_id = str(record.clinic_id) if record else ""
    elif finding in (Finding.WATERMARK, Finding.FINGERPRINT):
        # A lookalike vouches for nothing: no consent is claimed for a file that is not ours.
        verdict = Verdict.ALTERED_COPY if altered_copy else Verdict.RESEMBLES
        active, record = None, fingerprint_record or record
        clinic_id = str(record.clinic_id) if record else ""
    else:
        verdict, active, clinic_id, record = Verdict.NO_PROVENANCE, None, "", None
    clinic = _clinic_name(clinic_id)

    intact = manifest.state in (ManifestState.TRUSTED, ManifestState.VALID)
    how = " and ".join(
        name
        for name, present in (
            ("watermark", bool(watermark_id)),
            ("fingerprint", fingerprint_record is not None),
        )
        if present
    )
    outcome = VerifyOutcome(
        verdict=verdict,
        headline="",
        clinic_id=clinic_id if clinic else "",
        clinic_name=clinic,
        consent_active=active,
        manifest_state=manifest.state.value,
        # A broken signature proves nothing about who signed or what it claims: neither is shown.
        signer=manifest.signer_name if intact else "",
        source_type=manifest.source_type if intact else "",
        # Only what the watermark or the signature itself names; a fingerprint only resembles.
        content_id=watermark_id or signed_id,
        watermark_found=bool(watermark_id),
        watermark_score=watermark.sync_score if watermark is not None else 0.0,
        fingerprint_checked=Path(path).suffix.lower() in VIDEO_SUFFIXES,
        fingerprint_match=fingerprint_record is not None,
        fingerprint_votes=match.votes if match is not None and fingerprint_record is not None else 0,
        fingerprint_samples=match.query_samples if match is not None else 0,
        output_kind=record.output_kind if record else "",
        resembles_content_id=fingerprint_record.content_id if fingerprint_record is not None else "",
        likeness=likeness,
    )
    shown_id = outcome.resembles_content_id or outcome.content_id
    return replace(
        outcome,
        headline=_headline(verdict, clinic, active, how or "watermark", shown_id, outcome.differences),
    )


def verification_from_upload(*, file: UploadedFile, client_address: str) -> VerifyOutcome:
    """Verify a visitor's upload: rate-limited per address, validated, checked, then deleted.

    The file is never stored; the ledger keeps only its SHA-256 and the verdict.
    """
    from consent.ledger import ledger_append
    from core.ratelimit import rate_limit_hit
    from core.uploads import Scratch, upload_check

    rate_limit_hit(
        scope="verify",
        ident=client_address,
        limit=settings.PROVENANCE_VERIFY_RATE_LIMIT,
        window_seconds=settings.PROVENANCE_VERIFY_RATE_WINDOW_SECONDS,
    )
    with Scratch() as scratch:
        checked = upload_check(file=file, kinds={"video", "image"}, scratch=scratch)
        # The engine reads the type from the suffix; upload_check names its copy without one.
        typed = checked.path.rename(scratch / f"upload.{_SUFFIX.get(checked.probe.container, 'bin')}")
        outcome = media_verify(typed)
    ledger_append(
        event_type="provenance.verified",
        clinic_id=outcome.clinic_id or None,
        object_type="file",
        object_id=checked.sha256,
        data={"sha256": checked.sha256, "verdict": outcome.verdict.value},
    )
    return outcome


_SUFFIX = {
    "mp4": "mp4",
    "mov": "mov",
    "webm": "webm",
    "avi": "avi",
    "mpeg": "mpg",
    "jpeg": "jpg",
    "png": "png",
}
