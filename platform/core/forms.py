"""Forms of the kernel's pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm

from core.models import Role


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        max_length=200, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SecondFactorForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class InvitationAcceptForm(forms.Form):
    display_name = forms.CharField(label="Your full name (as printed on signatures)", max_length=200)
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$", max_length=150, help_text="3–150 letters, digits or . @ + - _"
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common password.",
    )


# Least privileged first, and the form starts on the first: a slip of the hand must not make a
# new person a clinic admin.
INVITATION_ROLE_CHOICES = [
    (role.value, role.label)
    for role in (Role.PATIENT, Role.CLINICIAN, Role.COMPLIANCE_OFFICER, Role.CLINIC_ADMIN)
]


class InvitationCreateForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(
        choices=INVITATION_ROLE_CHOICES,
        initial=Role.PATIENT,
        help_text="Clinic admins and compliance officers see consent records and sign in with a second factor.",
    )


class PasswordResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        label="Email address of your account",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
        help_text="At least 10 characters, not a common password.",
    )
    new_password2 = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class VideoUploadForm(forms.Form):
    file = forms.FileField(
        label="Video file",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "video/*"}),
    )


class ConfirmForm(forms.Form):
    """The confirmation step of a destructive action (core/confirm.html), without JavaScript.

    `confirmed` is a hidden field only the confirmation page sends: a POST without it (a one-click
    button elsewhere) leaves the form unbound, so the page is shown instead of acting, without
    errors. With an `acknowledge` label, the person must also tick a box that says what they give up.
    """

    confirmed = forms.CharField(widget=forms.HiddenInput)
    acknowledge = forms.BooleanField(required=False)

    def __init__(self, data: Any = None, *, acknowledge: str = "") -> None:
        #: Whether this POST came from the confirmation page (else: show the page).
        self.sent_from_confirmation = bool(data) and data.get("confirmed") == "yes"
        super().__init__(data if self.sent_from_confirmation else None)
        self.acknowledge_label = acknowledge
        self.fields["acknowledge"].label = acknowledge
        self.fields["acknowledge"].required = bool(acknowledge)
        self.fields["acknowledge"].error_messages["required"] = "Tick the box to confirm."
