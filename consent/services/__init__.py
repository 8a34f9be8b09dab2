"""Consent workflows, one module per sub-domain: `texts`, `labels` (disclosure labels and clinical
review), `signatures` (re-authentication and signature binding), `likeness` (a clinician's likeness
consent and the render gate), `challenges` (one-time phrases
for live consent statements) and `patient` (patient consents).

Every state change and its ledger entry commit in one transaction. Nothing is deleted.

Other apps import from `consent.services`: the names below are what they use (the render gate, use
counting, disclosure rendering, the statement check's result, and the likeness lifecycle their tests
drive). Code inside the consent app imports from the sub-domain module.
"""

from consent.challenge_words import CHALLENGE_WORDS
from consent.services.challenges import (
    PRODUCT_WORDING,
    IssuedChallenge,
    StatementWording,
    statement_challenge_issue,
    statement_phrase_of,
    statement_prefix,
    statement_text,
    statement_wording,
)
from consent.services.labels import RenderedDisclosure, disclosure_render
from consent.services.likeness import (
    IntendedUse,
    likeness_consent_assert_allows,
    likeness_consent_attach_evidence,
    likeness_consent_record_use,
    likeness_consent_revoke,
    likeness_consent_sign,
    likeness_consent_statement_upload,
    likeness_consent_verify_automated,
)

__all__ = [
    "CHALLENGE_WORDS",
    "IssuedChallenge",
    "IntendedUse",
    "PRODUCT_WORDING",
    "RenderedDisclosure",
    "StatementWording",
    "disclosure_render",
    "likeness_consent_assert_allows",
    "likeness_consent_attach_evidence",
    "likeness_consent_record_use",
    "likeness_consent_revoke",
    "likeness_consent_sign",
    "likeness_consent_statement_upload",
    "likeness_consent_verify_automated",
    "statement_challenge_issue",
    "statement_phrase_of",
    "statement_prefix",
    "statement_text",
    "statement_wording",
]
