"""One call that runs the three provenance checks on a file and says what they found together.

The Django verify service adds what only the database knows (is the consent still active? which
clinic owns this content id?) and turns the findings into the page's wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from provenance.engine.c2pa_sign import ManifestReport, ManifestState, read_manifest
from provenance.engine.fingerprint import FingerprintIndex, FingerprintMatch, fingerprint_video
from provenance.engine.watermark import WatermarkResult, detect_image, detect_video

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mpg", ".mpeg", ".webm", ".mkv", ".avi"})


class Finding(StrEnum):
    """The strongest provenance evidence found, strongest first."""

    SIGNED = "signed"  # intact C2PA manifest chaining to a platform root
    ALTERED = "altered"  # a manifest is there but the file or the manifest was changed
    WATERMARK = "watermark"  # no valid signature, but the invisible watermark names a content id
    FINGERPRINT = "fingerprint"  # no signature or watermark, but the fingerprint matches a registered video
    NONE = "none"  # no platform provenance found


@dataclass(frozen=True)
class ProvenanceFindings:
    """Everything the three checks found; `finding` is the headline."""

    finding: Finding
    manifest: ManifestReport
    watermark: WatermarkResult | None
    fingerprint: FingerprintMatch | None

    @property
    def content_id_hex(self) -> str:
        """The content id the evidence points to ("" when none): manifest, then watermark."""
        if self.manifest.consent and self.manifest.consent.content_id:
            return self.manifest.consent.content_id
        if self.watermark is not None and self.watermark.found:
            return self.watermark.content_id_hex
        return ""


def inspect_media(
    path: str | Path,
    *,
    trust_anchors_pem: str,
    watermark_key: bytes,
    index: FingerprintIndex | None = None,
    max_seconds: float = 10.0,
) -> ProvenanceFindings:
    """Read the manifest, look for the watermark and (for videos) the fingerprint of one file.

    The watermark and fingerprint are looked for even when the signature is intact, so the
    verify page can show that all three agree. A watermark id that contradicts a trusted
    manifest's content id is reported as ALTERED: the signed file was edited into a new one.
    """
    file_path = Path(path)
    suffix = file_path.suffix.lower()
    manifest = read_manifest(file_path, trust_anchors_pem=trust_anchors_pem)
    watermark: WatermarkResult | None = None
    match: FingerprintMatch | None = None
    if suffix in IMAGE_SUFFIXES:
        watermark = detect_image(file_path, key=watermark_key)
    elif suffix in VIDEO_SUFFIXES:
        watermark = detect_video(file_path, key=watermark_key, max_seconds=max_seconds)
        if index is not None:
            match = index.match(fingerprint_video(file_path, for_query=True))
    marked = watermark is not None and watermark.found
    if manifest.state is ManifestState.TRUSTED and manifest.consent is not None:
        signed_id = manifest.consent.content_id
        contradicts = (
            marked and bool(signed_id) and watermark is not None and watermark.content_id_hex != signed_id
        )
        finding = Finding.ALTERED if contradicts else Finding.SIGNED
    elif manifest.state is ManifestState.INVALID:
        finding = Finding.ALTERED
    elif marked:
        finding = Finding.WATERMARK
    elif match is not None:
        finding = Finding.FINGERPRINT
    else:
        finding = Finding.NONE
    return ProvenanceFindings(finding, manifest, watermark, match)
