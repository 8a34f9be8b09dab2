"""Everything provenance plugs into the apps below it, in one place."""

from __future__ import annotations

from consent.hooks import report_signer_register
from provenance.services_documents import document_pdf_sign


def register() -> None:
    """Called once by ProvenanceConfig.ready."""
    # The compliance officer's PDF evidence report leaves signed by the platform.
    report_signer_register(document_pdf_sign)
