"""Studio forms."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from avatars.models import AnonymizationMode, NarrationSource
from avatars.services.anonymize import MAX_REDACTION_BOXES, RedactionRequest
from consent.selectors import UseScope
from consent.wording import use_label


class EnrollmentForm(forms.Form):
    clinician = forms.ChoiceField(label="Clinician shown (they must sign it off)")
    footage = forms.FileField(
        label="Enrollment video: you reading the script below to camera, with sound",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )
    voice = forms.FileField(
        label="Voice sample (optional; otherwise the video's sound is used)",
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*"}),
    )

    def address_someone_else(self) -> None:
        """Labels for a clinic admin enrolling a clinician: the person on camera is not 'you'."""
        self.fields[
            "footage"
        ].label = "Enrollment video: the clinician reading the script below to camera, with sound"
        self.fields[
            "voice"
        ].label = "The clinician's voice sample (optional; otherwise the video's sound is used)"


#: The services refuse longer scripts too (avatars.services.scripts).
SCRIPT_MAX_CHARACTERS = 20_000


_USE_CHOICE_ERRORS = {"invalid_choice": "Choose one of the uses the presenter's consent allows."}

#: The uses a script is checked against, by form field and by the consent's list of that name.
USE_FIELDS = (
    ("topic", "topics"),
    ("audience", "audiences"),
    ("language", "languages"),
    ("channel", "channels"),
)


class ScriptForm(forms.Form):
    enrollment = forms.ChoiceField(label="Presenter")
    title = forms.CharField(max_length=200)
    # Chosen from what the presenter's consent allows (set per presenter by `offer_uses`).
    topic = forms.ChoiceField(error_messages=_USE_CHOICE_ERRORS)
    audience = forms.ChoiceField(error_messages=_USE_CHOICE_ERRORS)
    language = forms.ChoiceField(error_messages=_USE_CHOICE_ERRORS)
    channel = forms.ChoiceField(error_messages=_USE_CHOICE_ERRORS)
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

    field_order = ["enrollment", "title", "topic", "audience", "language", "channel"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No maxlength attribute: a browser would cut a pasted script mid-sentence without a word
        # (issue 15 item 11). The page counts characters as one types; the server refuses what is over.
        self.fields["text"].widget.attrs.pop("maxlength", None)
        self.scopes: dict[str, UseScope | None] = {}

    def offer_uses(
        self,
        *,
        presenters: list[tuple[str, str]],
        scopes: dict[str, UseScope | None],
        saved: dict[str, str] | None = None,
    ) -> None:
        """Offer the presenters, and for the chosen one (posted, saved, or the first) only the
        topics, audiences, languages and channels its consent allows; the page's script swaps the
        lists when another presenter is picked. A saved value the consent no longer covers stays
        shown, marked, so the form does not silently change it (saving it is refused)."""
        self.scopes = scopes
        cast(forms.ChoiceField, self.fields["enrollment"]).choices = [
            (key, name if scopes.get(key) is not None else f"{name} (no active likeness consent)")
            for key, name in presenters
        ]
        chosen = self._chosen_presenter(presenters)
        scope = scopes.get(chosen)
        for field, plural in USE_FIELDS:
            allowed = list(getattr(scope, plural)) if scope else []
            choices = [(code, use_label(field, code)) for code in allowed]
            current = self.data.get(field) if self.is_bound else (saved or {}).get(field)
            if current and current not in allowed:
                choices.append((current, f"{use_label(field, current)} (not allowed by the consent)"))
            choice_field = cast(forms.ChoiceField, self.fields[field])
            choice_field.choices = choices
            choice_field.help_text = ""
            if not self.is_bound and current:
                self.initial[field] = current

    def _chosen_presenter(self, presenters: list[tuple[str, str]]) -> str:
        keys = [key for key, _ in presenters]
        chosen = str(self.data.get("enrollment") if self.is_bound else self.initial.get("enrollment") or "")
        return chosen if chosen in keys else (keys[0] if keys else "")

    def use_options(self) -> dict[str, dict[str, list[list[str]]] | None]:
        """Each presenter's allowed uses as [code, label] pairs, for the page's script."""
        return {
            key: {
                field: [[code, use_label(field, code)] for code in getattr(scope, plural)]
                for field, plural in USE_FIELDS
            }
            if scope is not None
            else None
            for key, scope in self.scopes.items()
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        presenter = cleaned.get("enrollment")
        if not presenter:
            return cleaned
        scope = self.scopes.get(presenter)
        if scope is None:
            raise forms.ValidationError(
                "This presenter has no active likeness consent, so no script can use their likeness "
                "now. Choose another presenter."
            )
        for field, plural in USE_FIELDS:
            value = cleaned.get(field)
            if value and value not in getattr(scope, plural):
                self.add_error(
                    field, f"The presenter's consent does not cover this {field}; choose one it allows."
                )
        return cleaned


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

    def address_someone_else(self) -> None:
        """Labels for a clinic admin enrolling a clinician: the face is the clinician's."""
        self.fields[
            "photo"
        ].label = "Portrait photo: the clinician's face, looking at the camera, mouth closed"


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


class RedactionBoxForm(forms.Form):
    """One redaction box: top-left corner, width and height, as fractions of the picture or in
    pixels, and the seconds it covers. A row left blank is no box."""

    unit = forms.ChoiceField(
        choices=[("fraction", "fraction (0–1)"), ("pixels", "pixels")],
        initial="fraction",
        label="Unit",
    )
    x = forms.FloatField(min_value=0, label="Left (x)")
    y = forms.FloatField(min_value=0, label="Top (y)")
    width = forms.FloatField(min_value=0, label="Width")
    height = forms.FloatField(min_value=0, label="Height")
    start = forms.FloatField(min_value=0, required=False, label="From (s)")
    end = forms.FloatField(min_value=0, required=False, label="Until (s)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.FloatField):
                field.widget.attrs.update({"step": "any", "inputmode": "decimal"})

    def has_changed(self) -> bool:
        # A row whose numbers are all blank is no box, whatever unit it names.
        return bool(set(self.changed_data) - {"unit"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        for name in ("width", "height"):
            if data.get(name) == 0:
                self.add_error(name, f"The {name} must be more than 0.")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The box must end after it starts.")
        if data.get("unit") == "fraction":
            for name, size in (("x", "width"), ("y", "height")):
                corner, extent = data.get(name), data.get(size)
                if corner is not None and extent is not None and corner + extent > 1.0 + 1e-9:
                    self.add_error(
                        size, f"{name} + {size} is more than 1: the box reaches outside the picture."
                    )
        return data


class BaseRedactionBoxFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    default_error_messages = {
        "too_many_forms": f"At most {MAX_REDACTION_BOXES} redaction boxes per recording.",
    }

    def boxes(self) -> list[RedactionRequest]:
        """The filled-in rows as the service takes them (call once the formset is valid)."""
        return [
            RedactionRequest(
                x=row["x"],
                y=row["y"],
                width=row["width"],
                height=row["height"],
                start=row["start"] or 0.0,
                end=row["end"],
                unit=row["unit"],
            )
            for row in self.cleaned_data
            if row
        ]


RedactionBoxFormSet = forms.formset_factory(
    RedactionBoxForm,
    formset=BaseRedactionBoxFormSet,
    extra=2,
    max_num=MAX_REDACTION_BOXES,
    validate_max=True,
    absolute_max=MAX_REDACTION_BOXES,
)
