"""Error codes of the impersonation scanner: every ApplicationError raised in detection uses one."""

from enum import StrEnum

from core.errors import CoreErrorCode


class DetectionErrorCode(StrEnum):
    NO_FILES = "scan_no_files"
    TOO_MANY_FILES = "scan_batch_too_large"
    SCAN_NOT_FINISHED = "scan_not_finished"
    CASE_INVALID_TRANSITION = "case_invalid_transition"
    CASE_ALREADY_OPEN = "case_already_open"
    TAKEDOWN_INCOMPLETE = "takedown_incomplete"
    # The platform's generic refusals, spelled as the kernel spells them so clients see one code.
    NOT_FOUND = CoreErrorCode.NOT_FOUND.value
    PERMISSION_DENIED = CoreErrorCode.PERMISSION_DENIED.value
    INVALID_INPUT = CoreErrorCode.INVALID_INPUT.value
