"""Forms of the consent pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms

from consent.models import LegalBasis, Representation
from core.models import User


def _codes(value: str) -> list[str]:
    return [item.strip().lower() for item in value.replace("\n", ",").split(",") if item.strip()]


class SignatureFields(forms.Form):
    password = forms.CharField(
        label="Your password (to sign)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp = forms.CharField(
        label="Authenticator code (if you use one)",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class LikenessConsentForm(SignatureFields):
    topics = forms.CharField(
        label="Topics my likeness may present",
        initial="diabetes, asthma, vaccination",
        help_text="Comma-separated, e.g. diabetes, asthma",
    )
    audiences = forms.CharField(label="Audiences", initial="patients", help_text="e.g. patients, caregivers")
    languages = forms.CharField(label="Languages", initial="en", help_text="Language codes, e.g. en, es")
    channels = forms.CharField(label="Channels", initial="portal", help_text="e.g. portal, waiting-room")
    synthetic_voice_allowed = forms.BooleanField(
        label="A synthetic voice may be used (otherwise only my own recordings)", required=False
    )
    max_videos = forms.IntegerField(
        label="Maximum number of videos (empty: no cap)", required=False, min_value=1
    )
    valid_years = forms.IntegerField(
        label="Valid for (years, at most 10)", initial=2, min_value=1, max_value=10
    )
    compensation_terms = forms.CharField(
        label="Compensation terms", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    representation = forms.ChoiceField(
        label="I was advised by",
        choices=[("", "No one")] + [c for c in Representation.choices if c[0]],
        required=False,
    )
    field_order = [
        "topics",
        "audiences",
        "languages",
        "channels",
        "synthetic_voice_allowed",
        "max_videos",
        "valid_years",
        "compensation_terms",
        "representation",
        "password",
        "otp",
    ]

    def scope_values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "topics": _codes(d["topics"]),
            "audiences": _codes(d["audiences"]),
            "languages": _codes(d["languages"]),
            "channels": _codes(d["channels"]),
            "synthetic_voice_allowed": d["synthetic_voice_allowed"],
            "max_videos": d["max_videos"],
            "valid_years": d["valid_years"],
            "compensation_terms": d["compensation_terms"] or "",
            "representation": d["representation"] or "",
        }


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label="Video of you reading your consent statement",
        allow_empty_file=True,
        error_messages={"required": "Choose a video file of your consent statement."},
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )


class PatientConsentForm(SignatureFields):
    kind = forms.ChoiceField(
        label="I consent to",
        choices=[
            ("patient_recording", "Recording of my consultation"),
            ("patient_anonymization", "Anonymization of my recorded consultation"),
            ("patient_use", "Use of the anonymized video"),
        ],
    )
    purpose = forms.CharField(
        label="For this purpose", max_length=300, initial="Teaching clinicians at the clinic"
    )
    legal_basis = forms.ChoiceField(choices=LegalBasis.choices, initial=LegalBasis.EXPLICIT_CONSENT)
    field_order = ["kind", "purpose", "legal_basis", "password", "otp"]


class ConsentTextForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("likeness", "Likeness (clinician)"),
            ("patient_recording", "Recording"),
            ("patient_anonymization", "Anonymization"),
            ("patient_use", "Use of video"),
        ]
    )
    language = forms.CharField(max_length=16, initial="en")
    title = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}))


class ManualVerifyForm(forms.Form):
    """The "Verify by hand" button of one pending consent."""

    verify = forms.UUIDField(error_messages={"invalid": "Choose a consent from the list."})


class DepartureForm(forms.Form):
    """A clinician's departure or death; `departure` offers only the clinic's clinicians."""

    departure = forms.TypedChoiceField(
        coerce=int, error_messages={"invalid_choice": "Choose a clinician of your clinic."}
    )
    reason = forms.ChoiceField(
        choices=[("clinician_departed", "Left the clinic"), ("clinician_deceased", "Died")],
        initial="clinician_departed",
    )

    def __init__(self, *args: Any, clinicians: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["departure"]).choices = [
            (str(c.pk), c.printed_name) for c in clinicians
        ]


class DisclosureLabelForm(forms.Form):
    language = forms.CharField(max_length=16, initial="en")
    visible_text = forms.CharField(
        max_length=400, help_text="Placeholders: {clinician}, {clinic}, {contact}, {consent_date}"
    )
    spoken_start = forms.CharField(max_length=400)
    spoken_end = forms.CharField(max_length=400)


class LedgerSearchForm(forms.Form):
    event_type = forms.CharField(required=False, max_length=64, label="Event type starts with")
    subject = forms.ChoiceField(required=False, label="Person")
    object = forms.CharField(required=False, max_length=64, label="Consent, video or job id")
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("pdf", "PDF evidence report"), ("csv", "CSV"), ("json", "JSON"), ("fhir", "FHIR Bundle")]
    )
    fhir_version = forms.ChoiceField(
        choices=[("R5", "R5"), ("R4B", "R4B")], initial="R5", label="FHIR version"
    )
    include_names = forms.BooleanField(required=False, label="Include people's names (FHIR)")
    recipient = forms.CharField(max_length=200, label="Recipient", initial="Internal compliance file")
    purpose = forms.CharField(max_length=300, label="Purpose", initial="Consent audit")
