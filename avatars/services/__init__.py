"""Avatar studio workflows, one module per sub-domain: `enrollment` (likeness enrollment, sign-off,
analysis), `biometrics` (deleting an enrollment's biometric data, its retention period), `statement` (the consent statement check), `scripts` (saving, approval, fingerprint), `renders` (the
consent gate, disclosure, queueing and the render job's workflow), `publication` (review,
publication, withdrawal, share links), `viewer` (the patient's first-view acknowledgment) and
`anonymize` (patient anonymization: upload under consent, the job, review, publication, withdrawal
and the residual-risk report).

Other apps, the studio's views, demo and tasks import from `avatars.services`: the names below are
what they use. Code inside the services package imports from the sub-domain module.
"""

from avatars.services.anonymize import (
    anonymization_job_failed,
    anonymization_output_stands,
    anonymization_publish,
    anonymization_report_facts,
    anonymization_report_pdf,
    anonymization_report_sections,
    anonymization_request,
    anonymization_review,
    anonymizations_withdraw_for_patient_consent,
    anonymize_run,
)
from avatars.services.biometrics import (
    DeletionPreview,
    biometrics_expire,
    enrollment_delete,
    enrollment_deletion_handler_register,
    enrollment_deletion_preview,
    enrollment_retention_until,
    retention_schedule,
)
from avatars.services.enrollment import (
    enrollment_analysis_run,
    enrollment_footage_start,
    enrollment_portrait_create,
    enrollment_sign_off,
    enrollment_stock_get_or_create,
)
from avatars.services.publication import (
    link_publication_find,
    video_output_stands,
    video_publish,
    video_review,
    video_withdraw,
    videos_consent_end_preview,
    videos_withdraw_for_consent,
)
from avatars.services.renders import render_failed, render_refusal, render_request, render_run
from avatars.services.scripts import script_approve, script_save
from avatars.services.statement import statement_check_queue, statement_check_run
from avatars.services.viewer import video_acknowledge_view

__all__ = [
    "DeletionPreview",
    "anonymization_job_failed",
    "anonymization_output_stands",
    "anonymization_publish",
    "anonymization_report_facts",
    "anonymization_report_pdf",
    "anonymization_report_sections",
    "anonymization_request",
    "anonymization_review",
    "anonymizations_withdraw_for_patient_consent",
    "anonymize_run",
    "biometrics_expire",
    "enrollment_analysis_run",
    "enrollment_delete",
    "enrollment_deletion_handler_register",
    "enrollment_deletion_preview",
    "enrollment_retention_until",
    "enrollment_footage_start",
    "enrollment_portrait_create",
    "enrollment_sign_off",
    "enrollment_stock_get_or_create",
    "link_publication_find",
    "retention_schedule",
    "render_failed",
    "render_refusal",
    "render_request",
    "render_run",
    "script_approve",
    "script_save",
    "statement_check_queue",
    "statement_check_run",
    "video_acknowledge_view",
    "video_output_stands",
    "video_publish",
    "video_review",
    "video_withdraw",
    "videos_consent_end_preview",
    "videos_withdraw_for_consent",
]
