"""Error codes of the consent domain: every ApplicationError raised in the consent app uses one."""

from enum import StrEnum

from core.errors import CoreErrorCode


class ConsentErrorCode(StrEnum):
    NO_CONSENT = "consent_missing"
    NOT_ACTIVE = "consent_not_active"
    EXPIRED = "consent_expired"
    NOT_YET_VALID = "consent_not_yet_valid"
    TOPIC = "consent_scope_topic"
    AUDIENCE = "consent_scope_audience"
    LANGUAGE = "consent_scope_language"
    CHANNEL = "consent_scope_channel"
    SYNTHETIC_VOICE = "consent_scope_synthetic_voice"
    USE_LIMIT = "consent_use_limit_reached"
    OTHER_CLINIC = "consent_other_clinic"
    INVALID_TRANSITION = "consent_invalid_transition"
    REAUTH_FAILED = "signature_reauthentication_failed"
    INVALID_SCOPE = "consent_scope_invalid"
    NO_TEXT = "consent_text_missing"
    LABEL_INVALID = "disclosure_label_invalid"
    LABEL_REQUIRED = "disclosure_label_required"
    NOT_ALLOWED = "consent_not_allowed"
    # The platform's generic refusals, spelled as the kernel spells them so clients see one code.
    NOT_FOUND = CoreErrorCode.NOT_FOUND.value
    PERMISSION_DENIED = CoreErrorCode.PERMISSION_DENIED.value
    INVALID_INPUT = CoreErrorCode.INVALID_INPUT.value
