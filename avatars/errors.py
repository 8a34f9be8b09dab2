"""Error codes of the avatar studio: every ApplicationError raised in the avatars app uses one.

The values are what clients and tests see; they never change when a member is renamed.
"""

from enum import StrEnum

from core.errors import CoreErrorCode


class AvatarErrorCode(StrEnum):
    ENROLLMENT_NO_AUDIO = "enrollment_no_audio"
    ENROLLMENT_INVALID_TRANSITION = "enrollment_invalid_transition"
    ENROLLMENT_NOT_READY = "enrollment_not_ready"
    ENROLLMENT_DELETED = "enrollment_deleted"
    SCRIPT_INVALID = "script_invalid"
    SCRIPT_NOT_APPROVED = "script_not_approved"
    # Spelled as the consent app spells it: a render refused for want of a label reads the same to a
    # client whichever app noticed.
    DISCLOSURE_LABEL_REQUIRED = "disclosure_label_required"
    VIDEO_INVALID_TRANSITION = "video_invalid_transition"
    VIDEO_REVIEW_REASON_REQUIRED = "video_review_reason_required"
    VIDEO_NOT_APPROVED = "video_not_approved"
    VIDEO_UNSIGNED = "video_unsigned"
    ANONYMIZATION_CONSENT_REQUIRED = "anonymization_consent_required"
    ANONYMIZATION_USE_CONSENT_REQUIRED = "anonymization_use_consent_required"
    ANONYMIZATION_INVALID_TRANSITION = "anonymization_invalid_transition"
    ANONYMIZATION_NO_ENROLLMENT = "anonymization_no_enrollment"
    # The platform's generic refusals, spelled as the kernel spells them so clients see one code.
    NOT_FOUND = CoreErrorCode.NOT_FOUND.value
    PERMISSION_DENIED = CoreErrorCode.PERMISSION_DENIED.value
    INVALID_INPUT = CoreErrorCode.INVALID_INPUT.value
