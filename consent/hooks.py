"""What other apps do when a likeness consent ends (revoked, expired, clinician departed), or a
patient withdraws a consent.

An app registers its handlers in its `register()` (the app's registration module, called once by its
AppConfig.ready), never as a side effect of importing a module; they run in registration order,
that is in the order of INSTALLED_APPS (consent's own first). Each handler stops or withdraws what
depends on the consent and returns one effect per thing it changed, which the consent service
records in the ledger. Handlers run inside the revocation's transaction: if one fails, nothing
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consent.models import LikenessConsent, PatientConsent


@dataclass(frozen=True)
class ConsentEndEffect:
    """One consequence of a consent ending, recorded as a ledger event."""

    event_type: str  # e.g. "job.cancelled", "publication.withdrawn"
    object_type: str
    object_id: str
    data: dict[str, Any] = field(default_factory=dict)


ConsentEndHandler = Callable[["LikenessConsent", str], list[ConsentEndEffect]]

_handlers: list[ConsentEndHandler] = []


def consent_end_handler_register(handler: ConsentEndHandler) -> None:
    """Register a handler called with (consent, reason) when a likeness consent stops being usable."""
    if handler not in _handlers:
        _handlers.append(handler)


def consent_end_handlers() -> list[ConsentEndHandler]:
    return list(_handlers)


# What ending a likeness consent would do, in sentences for the person about to revoke it (the studio
# counts the videos that would be withdrawn and the renders that would stop). Reads only.
ConsentEndPreview = Callable[["LikenessConsent"], list[str]]

_previews: list[ConsentEndPreview] = []


def consent_end_preview_register(preview: ConsentEndPreview) -> None:
    """Register an app's description of what ending a likeness consent would change for it."""
    if preview not in _previews:
        _previews.append(preview)


def consent_end_previews() -> list[ConsentEndPreview]:
    return list(_previews)


PatientConsentEndHandler = Callable[["PatientConsent"], list[ConsentEndEffect]]

_patient_handlers: list[PatientConsentEndHandler] = []


def patient_consent_end_handler_register(handler: PatientConsentEndHandler) -> None:
    """Register a handler called with the consent when a patient withdraws it (same rules as above:
    inside the withdrawal's transaction, one ledger event per returned effect)."""
    if handler not in _patient_handlers:
        _patient_handlers.append(handler)


def patient_consent_end_handlers() -> list[PatientConsentEndHandler]:
    return list(_patient_handlers)


# Checkers of a newly attached consent statement (the avatar studio compares face and voice with the
# enrolled likeness). Each is called after the evidence is committed, with the consent; it may queue
# a job and later call consent.services.likeness_consent_verify_automated.
EvidenceChecker = Callable[["LikenessConsent"], None]

_evidence_checkers: list[EvidenceChecker] = []


def evidence_checker_register(checker: EvidenceChecker) -> None:
    """Register a checker of consent statements."""
    if checker not in _evidence_checkers:
        _evidence_checkers.append(checker)


def evidence_checkers() -> list[EvidenceChecker]:
    return list(_evidence_checkers)


@dataclass(frozen=True)
class SignedReport:
    """A PDF report as signed by the registered signer, and who signed it."""

    content: bytes
    signer_sha256: str  # SHA-256 of the signing certificate (DER)
    signer_name: str


# The signer of PDF evidence reports: provenance registers the platform's document-signing
# certificate (PAdES), so consent, which sits below provenance, never imports it.
ReportSigner = Callable[[bytes], SignedReport]

_report_signers: list[ReportSigner] = []


def report_signer_register(signer: ReportSigner) -> None:
    """Register the signer of PDF evidence reports (one; registering another replaces it)."""
    _report_signers[:] = [signer]


def report_signer() -> ReportSigner | None:
    """The registered signer of PDF reports, if any."""
    return _report_signers[0] if _report_signers else None
