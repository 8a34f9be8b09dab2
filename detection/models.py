"""Impersonation scanner models (added by their issues)."""
