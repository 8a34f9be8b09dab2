"""Sign synthetic outputs with a C2PA manifest and read manifests back (c2pa-python, offline).

Every manifest carries one `c2pa.actions.v2` assertion whose action names the IPTC digital source
type (what the EU AI Act Art. 50 and AB 3030 disclosure asks for in machine-readable form) and one
project assertion, `org.candor.consent`, with the consent reference: ids and hashes, never PHI.

Trust: the verifier is told the platform root(s) as its only trust anchors, so a file signed by any
clinic leaf the platform issued reads `Trusted`; a genuine C2PA file from elsewhere reads `Valid`
(signature fine, signer unknown); a changed byte in the hashed media reads `Invalid`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from provenance.engine.errors import ProvenanceError
from provenance.engine.keys import SigningIdentity

CONSENT_LABEL = "org.candor.consent"
ACTIONS_LABEL = "c2pa.actions.v2"
CLAIM_GENERATOR = "Candor provenance engine"
CLAIM_GENERATOR_VERSION = "1.0"

_MIME_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".wav": "audio/wav",
}


class SourceType(StrEnum):
    """IPTC digital source types the platform signs with."""

    TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    )


class ManifestState(StrEnum):
    """C2PA validation state of a file, as the verify page words it."""

    TRUSTED = "Trusted"  # signature valid and chains to a platform root
    VALID = "Valid"  # signature and hashes valid, signer not one of ours
    INVALID = "Invalid"  # a manifest is present but the file or the manifest was altered
    NONE = "None"  # no manifest at all (never signed, or stripped)


_STATES = frozenset(state.value for state in ManifestState)


@dataclass(frozen=True)
class ConsentAssertion:
    """The project assertion: which consent allowed this output and how it was disclosed.

    Only identifiers and hashes go here: the manifest is public and travels with the file.
    """

    clinic_id: str
    ledger_entry_id: str
    consent_ids: tuple[str, ...]
    consent_hashes: tuple[str, ...] = ()
    disclosure_text: str = ""
    content_id: str = ""  # hex watermark id, so a verifier can tie the frames to this manifest
    output_kind: str = ""  # e.g. "avatar_video", "poster", "anonymized_video"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored in the manifest."""
        return {
            "clinic_id": self.clinic_id,
            "ledger_entry_id": self.ledger_entry_id,
            "consent_ids": list(self.consent_ids),
            "consent_hashes": list(self.consent_hashes),
            "disclosure_text": self.disclosure_text,
            "content_id": self.content_id,
            "output_kind": self.output_kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsentAssertion:
        """Parse the assertion back; unknown keys are ignored so older readers keep working."""
        return cls(
            clinic_id=str(data.get("clinic_id", "")),
            ledger_entry_id=str(data.get("ledger_entry_id", "")),
            consent_ids=tuple(str(x) for x in data.get("consent_ids", ())),
            consent_hashes=tuple(str(x) for x in data.get("consent_hashes", ())),
            disclosure_text=str(data.get("disclosure_text", "")),
            content_id=str(data.get("content_id", "")),
            output_kind=str(data.get("output_kind", "")),
        )


@dataclass(frozen=True)
class SignResult:
    """What signing produced."""

    path: Path
    manifest_bytes: int
    seconds: float


@dataclass(frozen=True)
class ManifestReport:
    """A file's C2PA provenance as read back by `read_manifest`."""

    state: ManifestState
    signer_name: str = ""
    source_type: str = ""
    action: str = ""
    consent: ConsentAssertion | None = None
    manifest_label: str = ""
    failures: tuple[str, ...] = field(default=())
    detail: str = ""

    @property
    def clinic_id(self) -> str:
        """The clinic named by the signed consent assertion ("" when there is none)."""
        return self.consent.clinic_id if self.consent else ""

    @property
    def is_platform_signed(self) -> bool:
        """True only for an intact manifest that chains to a platform root."""
        return self.state is ManifestState.TRUSTED and self.consent is not None


def mime_type_for(path: str | Path) -> str:
    """The MIME type c2pa needs for a file, from its suffix."""
    suffix = Path(path).suffix.lower()
    try:
        return _MIME_BY_SUFFIX[suffix]
    except KeyError:
        raise ProvenanceError(f"Cannot sign or read '{suffix}' files.", code="unsupported_format") from None


def build_manifest(*, consent: ConsentAssertion, source_type: SourceType, title: str) -> dict[str, Any]:
    """The manifest definition: the created (and, for composites, edited) action, and the consent."""
    agent = {"name": CLAIM_GENERATOR, "version": CLAIM_GENERATOR_VERSION}
    actions: list[dict[str, Any]] = [
        {
            "action": "c2pa.created",
            "digitalSourceType": source_type.value,
            "softwareAgent": agent,
            "description": consent.disclosure_text,
        }
    ]
    if source_type is SourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA:
        # C2PA wants the first action to be created/opened, and "opened" needs the parent as an
        # ingredient, whose thumbnail would put the patient's raw recording into a public manifest.
        # So the output is "created" and the regeneration of parts of it is an explicit edit.
        actions.append(
            {
                "action": "c2pa.edited",
                "digitalSourceType": source_type.value,
                "softwareAgent": agent,
                "description": "Parts of recorded footage regenerated by a trained model.",
            }
        )
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": CLAIM_GENERATOR_VERSION}],
        "title": title,
        "assertions": [
            {
                "label": ACTIONS_LABEL,
                "data": {"actions": actions},
            },
            {"label": CONSENT_LABEL, "data": consent.to_dict()},
        ],
    }


def sign_media(
    source: str | Path,
    dest: str | Path,
    *,
    identity: SigningIdentity,
    consent: ConsentAssertion,
    source_type: SourceType = SourceType.TRAINED_ALGORITHMIC_MEDIA,
    title: str | None = None,
) -> SignResult:
    """Write a signed copy of `source` (MP4, JPEG, PNG, WAV) to `dest` with the clinic's identity.

    `dest` must differ from `source`. Raises ProvenanceError when c2pa refuses the key, the
    certificate or the file.
    """
    import c2pa

    src, out = Path(source), Path(dest)
    if src.resolve() == out.resolve():
        raise ProvenanceError("Sign into a new file, not over the source.", code="sign_failed")
    mime = mime_type_for(src)
    manifest = build_manifest(consent=consent, source_type=source_type, title=title or out.name)
    started = time.perf_counter()
    try:
        info = c2pa.C2paSignerInfo(
            alg=identity.alg.encode("ascii"),
            sign_cert=identity.cert_chain_pem,
            private_key=identity.key_pem,
            ta_url=None,
        )
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(json.dumps(manifest)) as builder,
            src.open("rb") as fin,
            out.open("w+b") as fout,
        ):
            manifest_bytes = builder.sign(signer, mime, fin, fout)
    except c2pa.C2paError as exc:
        out.unlink(missing_ok=True)
        raise ProvenanceError(f"C2PA signing failed: {exc}", code="sign_failed") from exc
    return SignResult(out, len(manifest_bytes), time.perf_counter() - started)


def _reader_context(trust_anchors_pem: str | None) -> Any:
    import c2pa

    verify: dict[str, Any] = {"verify_trust": bool(trust_anchors_pem), "remote_manifest_fetch": False}
    settings: dict[str, Any] = {"verify": verify}
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context.from_dict(settings)


def _failure_codes(results: dict[str, Any] | None) -> tuple[str, ...]:
    if not results:
        return ()
    active = results.get("activeManifest") or {}
    return tuple(str(item.get("code", "")) for item in active.get("failure", ()))


def _report_from_manifest(
    state: ManifestState, manifest: dict[str, Any], failures: tuple[str, ...]
) -> ManifestReport:
    action_name, source_type = "", ""
    consent: ConsentAssertion | None = None
    for assertion in manifest.get("assertions", ()):
        label = str(assertion.get("label", ""))
        data = assertion.get("data") or {}
        if label in (ACTIONS_LABEL, "c2pa.actions"):
            # The last created/edited action is the one that describes the file as it is now.
            for action in data.get("actions", ()):
                if action.get("action") in ("c2pa.created", "c2pa.edited"):
                    action_name = str(action["action"])
                    source_type = str(action.get("digitalSourceType", source_type))
        elif label == CONSENT_LABEL and isinstance(data, dict):
            consent = ConsentAssertion.from_dict(data)
    signature = manifest.get("signature_info") or {}
    return ManifestReport(
        state=state,
        signer_name=str(signature.get("common_name") or signature.get("issuer") or ""),
        source_type=source_type,
        action=action_name,
        consent=consent,
        manifest_label=str(manifest.get("label", "")),
        failures=failures,
    )


def read_manifest(path: str | Path, *, trust_anchors_pem: str | None) -> ManifestReport:
    """Read and validate a file's C2PA manifest against the given platform root(s).

    Never raises for a bad or unsupported file: the verify page needs an answer for anything a
    visitor uploads, so problems come back as `INVALID` (manifest present but broken) or `NONE`.
    """
    import c2pa

    file_path = Path(path)
    try:
        mime = mime_type_for(file_path)
    except ProvenanceError as exc:
        return ManifestReport(ManifestState.NONE, detail=exc.message)
    try:
        with _reader_context(trust_anchors_pem) as context, file_path.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, context)
            if reader is None:
                return ManifestReport(ManifestState.NONE, detail="no C2PA manifest")
            with reader:
                raw_state = reader.get_validation_state() or ""
                manifest = reader.get_active_manifest() or {}
                failures = _failure_codes(reader.get_validation_results())
        state = ManifestState(raw_state) if raw_state in _STATES else ManifestState.INVALID
        return _report_from_manifest(state, manifest, failures)
    except c2pa.C2paError.ManifestNotFound:
        return ManifestReport(ManifestState.NONE, detail="no C2PA manifest")
    except c2pa.C2paError.RemoteManifest:
        # Only a link to a manifest elsewhere; the verifier stays offline, and nothing embedded
        # was altered, so this is "no embedded provenance" rather than tampering.
        return ManifestReport(ManifestState.NONE, detail="remote manifest not fetched")
    except OSError as exc:
        raise ProvenanceError(f"Cannot read {file_path.name}: {exc}", code="file_unreadable") from exc
    except Exception as exc:
        # A manifest store that no longer parses is an alteration, not an absence. c2pa-python
        # reports a damaged store not only as C2paError but also as KeyError (a store whose
        # active manifest label no longer resolves), ValueError or TypeError from its JSON, and
        # the manifest's own fields may then have any shape: every one of these is "Invalid".
        return ManifestReport(
            ManifestState.INVALID, detail=f"unreadable manifest: {type(exc).__name__}: {exc}"
        )
