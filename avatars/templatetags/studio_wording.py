"""Template filters of the studio pages."""

from __future__ import annotations

from django import template

from avatars.models import Enrollment
from avatars.services.enrollment_guide import QualityReport, enrollment_quality_report

register = template.Library()


@register.filter(name="quality_report")
def quality_report_filter(enrollment: Enrollment) -> QualityReport | None:
    """``{% with report=e|quality_report %}``: the footage analysis in plain language, or None."""
    return enrollment_quality_report(enrollment)
