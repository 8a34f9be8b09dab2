"""Provenance: is this the platform's own content? (C2PA manifest, invisible watermark, fingerprint)

A thin adapter over `provenance.engine.verify.inspect_media`: the three checks and how they
combine are the provenance engine's; this module turns its findings into an `AnalyzerResult`
and lets the caller look fingerprints up through a callable (the fingerprint index is kept on
the Django side).

The score is how surely platform provenance was found: 1 for an intact manifest chaining to a
platform root, for a manifest that is there but broken (tampering is still provenance), and for
a watermark id (its false-positive bound is below 1e-9 per clip); the share of agreeing samples
for a fingerprint match; 0 when nothing was found.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from detection.engine.errors import DetectionError
from detection.engine.results import Analyzer, AnalyzerResult, Evidence
from detection.engine.specs import FingerprintLookup, ProvenanceContext
from provenance.engine.errors import ProvenanceError
from provenance.engine.fingerprint import FingerprintIndex, FingerprintMatch, VideoFingerprint
from provenance.engine.verify import Finding, inspect_media

_SUFFIX_BY_CONTAINER = {
    "mp4": ".mp4",
    "mov": ".mov",
    "webm": ".webm",
    "avi": ".avi",
    "mpeg": ".mpg",
    "png": ".png",
    "jpeg": ".jpg",
    "wav": ".wav",
}
_SAME_SUFFIX = {".jpeg": ".jpg", ".m4v": ".mp4", ".mpeg": ".mpg"}


class _LookupIndex(FingerprintIndex):
    """A fingerprint index whose matching is the caller's lookup (the real index lives elsewhere)."""

    def __init__(self, lookup: FingerprintLookup) -> None:
        super().__init__()
        self._lookup = lookup

    def match(self, query: VideoFingerprint) -> FingerprintMatch | None:
        return self._lookup(query)


@contextlib.contextmanager
def _with_suffix(path: Path, container: str) -> Iterator[Path]:
    """The file under a name whose suffix matches its real type (the provenance engine goes by suffix)."""
    suffix = _SUFFIX_BY_CONTAINER.get(container, path.suffix.lower())
    if _SAME_SUFFIX.get(path.suffix.lower(), path.suffix.lower()) == suffix:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="candor-scan-") as folder:
        alias = Path(folder) / f"media{suffix}"
        os.symlink(path.resolve(), alias)
        yield alias


def provenance_result(
    path: Path, container: str, context: ProvenanceContext, *, max_seconds: float = 10.0
) -> AnalyzerResult:
    """Run the provenance checks on one file and report what they found."""
    from detection.engine.accuracy import accuracy_of

    index = _LookupIndex(context.fingerprint_lookup) if context.fingerprint_lookup is not None else None
    try:
        with _with_suffix(path, container) as readable:
            findings = inspect_media(
                readable,
                trust_anchors_pem=context.trust_anchors_pem,
                watermark_key=context.watermark_key,
                index=index,
                max_seconds=max_seconds,
            )
    except ProvenanceError as error:
        raise DetectionError(f"The provenance check failed: {error.message}", code=error.code) from error
    manifest, watermark, fingerprint = findings.manifest, findings.watermark, findings.fingerprint
    evidence: list[Evidence] = []
    if manifest.state.value != "None":
        who = f" by {manifest.signer_name}" if manifest.signer_name else ""
        evidence.append(
            Evidence(
                note=f"C2PA manifest{who}: {manifest.state.value}."
                + (f" Failures: {', '.join(manifest.failures)}." if manifest.failures else "")
            )
        )
    if watermark is not None and watermark.found:
        evidence.append(
            Evidence(
                note=f"Invisible watermark found: content id {watermark.content_id_hex} "
                f"(sync {watermark.sync_score:.1f} noise deviations)."
            )
        )
    if fingerprint is not None:
        evidence.append(
            Evidence(
                note=f"Fingerprint matches registered video {fingerprint.video_id} "
                f"({fingerprint.votes} of {fingerprint.query_samples} samples agree)."
            )
        )
    if findings.finding is Finding.NONE:
        evidence.append(Evidence(note="No platform provenance: no manifest, watermark or fingerprint match."))
    score = {
        Finding.SIGNED: 1.0,
        Finding.ALTERED: 1.0,
        Finding.WATERMARK: 1.0,
        Finding.FINGERPRINT: (fingerprint.votes / max(fingerprint.query_samples, 1)) if fingerprint else 0.0,
        Finding.NONE: 0.0,
    }[findings.finding]
    consent = manifest.consent
    return AnalyzerResult(
        Analyzer.PROVENANCE.value,
        score,
        False,
        0.5,
        evidence=tuple(evidence),
        accuracy=accuracy_of(Analyzer.PROVENANCE),
        details={
            "finding": findings.finding.value,
            "manifest_state": manifest.state.value,
            "signer": manifest.signer_name,
            "clinic_id": manifest.clinic_id,
            "content_id": findings.content_id_hex,
            "consent_ids": list(consent.consent_ids) if consent else [],
            "ledger_entry_id": consent.ledger_entry_id if consent else "",
            "source_type": manifest.source_type,
            "watermark_content_id": watermark.content_id_hex if watermark is not None else "",
            "fingerprint_video_id": fingerprint.video_id if fingerprint else "",
        },
    )
