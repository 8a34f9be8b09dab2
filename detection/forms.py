"""Forms of the scanner pages (the services validate; forms only carry the input)."""

from __future__ import annotations

from django import forms

from detection.models import CaseOutcome


class CaseStepForm(forms.Form):
    action = forms.ChoiceField(choices=[("review", "review"), ("takedown", "takedown"), ("close", "close")])
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    platform = forms.CharField(required=False, max_length=120)
    url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    outcome = forms.ChoiceField(required=False, choices=[("", "—"), *CaseOutcome.choices])
