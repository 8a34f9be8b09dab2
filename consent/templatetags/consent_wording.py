"""Template filters that turn consent codes into sentences (see `consent.wording`)."""

from __future__ import annotations

from django import template

from consent.wording import reason_sentence

register = template.Library()


@register.filter(name="reason_sentence")
def reason_sentence_filter(reason: str) -> str:
    """``{{ consent.revocation_reason|reason_sentence }}``: why a consent ended, as a sentence."""
    return reason_sentence(reason)
