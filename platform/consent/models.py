"""Consent and ledger models (added by their issues)."""
