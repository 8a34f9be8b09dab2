"""Studio forms."""

from __future__ import annotations

from typing import Any

from django import forms

from avatars.models import AnonymizationMode, NarrationSource


class EnrollmentForm(forms.Form):
    clinician = forms.ChoiceField(label="Clinician shown (they must sign it off)")
    footage = forms.FileField(
        label="Enrollment video: you reading the provided script to camera, with sound",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )
    voice = forms.FileField(
        label="Voice sample (optional; otherwise the video's sound is used)",
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*"}),
    )


#: The services refuse longer scripts too (avatars.services.scripts).
SCRIPT_MAX_CHARACTERS = 20_000


class ScriptForm(forms.Form):
    enrollment = forms.ChoiceField(label="Presenter")
    title = forms.CharField(max_length=200)
    language = forms.CharField(max_length=16, initial="en")
    topic = forms.CharField(max_length=64, initial="diabetes")
    audience = forms.CharField(max_length=64, initial="patients")
    channel = forms.CharField(max_length=64, initial="portal")
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "data-max-chars": SCRIPT_MAX_CHARACTERS}),
        max_length=SCRIPT_MAX_CHARACTERS,
        help_text="Up to 20,000 characters (about 25 minutes of speech).",
    )
    narration_source = forms.ChoiceField(
        choices=NarrationSource.choices, initial=NarrationSource.TTS, label="Narration"
    )
    narration = forms.FileField(
        required=False,
        label="Narration recording (if recorded)",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No maxlength attribute: a browser would cut a pasted script mid-sentence without a word
        # (issue 15 item 11). The page counts characters as one types; the server refuses what is over.
        self.fields["text"].widget.attrs.pop("maxlength", None)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=500, label="Reason (required to reject)")


class PublishForm(forms.Form):
    patients = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Patients"
    )
    link_days = forms.IntegerField(
        required=False, min_value=1, max_value=90, label="Also create a share link valid for (days)"
    )


class PortraitForm(forms.Form):
    clinician = forms.ChoiceField(label="Clinician shown (they must sign it off)")
    photo = forms.FileField(
        label="Portrait photo: your face, looking at the camera, mouth closed",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )


class AnonymizationForm(forms.Form):
    patient = forms.ChoiceField(label="Patient shown in the recording")
    recording = forms.FileField(
        label="Consultation recording (video with sound)",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )
    mode = forms.ChoiceField(
        choices=AnonymizationMode.choices, initial=AnonymizationMode.SYNTHETIC, label="Replace faces with"
    )
    keep = forms.ChoiceField(required=False, label="Keep unaltered (enrolled face and voice)")
