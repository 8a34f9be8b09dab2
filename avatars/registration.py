"""Everything the avatar studio plugs into the kernel and into consent, in one place."""

from __future__ import annotations

from typing import Any

from avatars.demo import avatars_demo_seed
from avatars.engine.errors import EngineError, RenderCancelled
from avatars.models import AvatarJobKind
from avatars.selectors import patient_publications
from avatars.services import (
    anonymization_output_stands,
    anonymizations_withdraw_for_patient_consent,
    statement_check_queue,
    video_output_stands,
    videos_consent_end_preview,
    videos_withdraw_for_consent,
)
from avatars.tasks import (
    anonymize,
    anonymize_job_failed,
    enrollment_analyze,
    render_job_failed,
    statement_check,
    video_render,
)
from consent.hooks import (
    consent_end_handler_register,
    consent_end_preview_register,
    evidence_checker_register,
    patient_consent_end_handler_register,
)
from core.demo import DemoContribution, demo_contribution_register
from core.home import HomePanel, home_panel_register
from core.job_kinds import job_kind_register
from core.models import Role, User
from provenance.services import output_standing_register

# The studio's engine stops with RenderCancelled when its progress callback is cancelled, and words
# every EngineError for the clinician; this holds for all three kinds, which run the engine.
_CANCELLATION_ERRORS = (RenderCancelled,)
_USER_FACING_ERRORS = (EngineError,)
# Shown on the cancel confirmation page.
_RENDER_CANCEL = (
    "The video will not be made, and nothing is published. The script stays approved: you can render "
    "it again from its page."
)
_ENROLLMENT_CANCEL = "The footage is not analysed, so it cannot be used for videos; upload it again to retry."


def _patient_home_context(user: User) -> dict[str, Any]:
    return {"publications": patient_publications(user=user)}


def register() -> None:
    """Called once by AvatarsConfig.ready."""
    for kind, task, on_failure, cancel_consequence in (
        # A failed, cancelled or abandoned render fails its video.
        (AvatarJobKind.RENDER, video_render, render_job_failed, _RENDER_CANCEL),
        (AvatarJobKind.ENROLLMENT, enrollment_analyze, None, _ENROLLMENT_CANCEL),
        (AvatarJobKind.STATEMENT_CHECK, statement_check, None, ""),
    ):
        job_kind_register(
            kind,
            task=task,
            label=kind.label,
            on_failure=on_failure,
            cancellation_errors=_CANCELLATION_ERRORS,
            user_facing_errors=_USER_FACING_ERRORS,
            cancel_consequence=cancel_consequence,
        )
    # The anonymization engine lets the kernel's JobCancelled through from its progress callback, and
    # words its errors (AnonymizeError, an EngineError) for the uploader.
    job_kind_register(
        AvatarJobKind.ANONYMIZE,
        task=anonymize,
        label=AvatarJobKind.ANONYMIZE.label,
        on_failure=anonymize_job_failed,
        user_facing_errors=_USER_FACING_ERRORS,
        cancel_consequence="No anonymized video is made from the recording.",
    )
    consent_end_handler_register(videos_withdraw_for_consent)
    consent_end_preview_register(videos_consent_end_preview)
    patient_consent_end_handler_register(anonymizations_withdraw_for_patient_consent)
    evidence_checker_register(statement_check_queue)
    # The verify page asks whether an output still stands; the studio answers for its own outputs.
    output_standing_register(video_output_stands)
    output_standing_register(anonymization_output_stands)
    home_panel_register(
        HomePanel(role=Role.PATIENT, template="avatars/_home_patient.html", context=_patient_home_context)
    )
    demo_contribution_register(
        DemoContribution(
            app="avatars",
            seed=avatars_demo_seed,
            announce="Rendering the demo education video (stock presenter; first run only)...",
        )
    )
