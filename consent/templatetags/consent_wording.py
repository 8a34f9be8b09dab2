"""Template filters that turn consent codes into sentences (see `consent.wording`)."""

from __future__ import annotations

from django import template

from consent.wording import disclosure_sentence, reason_sentence, use_label, use_labels

register = template.Library()


@register.filter(name="reason_sentence")
def reason_sentence_filter(reason: str) -> str:
    """``{{ consent.revocation_reason|reason_sentence }}``: why a consent ended, as a sentence."""
    return reason_sentence(reason)


@register.filter(name="use_labels")
def use_labels_filter(codes: list[str], field: str) -> str:
    """``{{ consent.languages|use_labels:"language" }}``: a scope list as words."""
    return use_labels(field, list(codes or []))


@register.simple_tag
def disclosure_what(what: str, records: list[str]) -> str:
    """``{% disclosure_what d.what d.object_ids %}``: what was disclosed, in words."""
    return disclosure_sentence(what, len(records or []))


@register.filter(name="use_label")
def use_label_filter(code: str, field: str) -> str:
    """``{{ script.language|use_label:"language" }}``: one scope code as a word."""
    return use_label(field, code)
