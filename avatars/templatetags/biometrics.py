"""Template filters for the studio's presenter list: when an enrollment's biometric data is
destroyed at the latest, and whether the signed-in person may delete it now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

from avatars import policy
from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus
from avatars.services import enrollment_retention_until

register = template.Library()


@register.filter
def retention_until(enrollment: Enrollment) -> datetime | None:
    """The enrollment's destruction date under the retention schedule (None: it holds no data)."""
    return enrollment_retention_until(enrollment)


@register.filter
def deletable_by(enrollment: Enrollment, user: Any) -> bool:
    """Whether `user` may delete the enrollment's biometric data (it must still hold some)."""
    holds_data = enrollment.kind != EnrollmentKind.STOCK and enrollment.status != EnrollmentStatus.DELETED
    return holds_data and policy.can_delete_enrollment(user, enrollment)
