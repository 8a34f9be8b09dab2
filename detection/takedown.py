"""The takedown notice: a one-page A4 PDF addressed to the platform hosting the content."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class TakedownNotice:
    clinic_name: str
    clinic_email: str
    platform: str
    url: str
    clinician: str
    verdict: str
    sha256: str
    file_name: str
    explanation: tuple[str, ...]
    case_id: str
    signed_by: str
    date: datetime


def takedown_pdf(notice: TakedownNotice) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"Takedown notice to {notice.platform}",
        author=notice.clinic_name,
        invariant=1,
    )
    who = notice.clinician or "a clinician of our clinic"

    def para(text: str, style: str = "BodyText") -> Paragraph:
        return Paragraph(escape(text), styles[style])

    story = [
        para(f"Takedown notice — to the trust and safety team of {notice.platform}", "Title"),
        para(f"From: {notice.clinic_name}" + (f" <{notice.clinic_email}>" if notice.clinic_email else "")),
        para(f"Date: {notice.date:%Y-%m-%d}    Case reference: {notice.case_id}"),
        Spacer(1, 6 * mm),
        para(
            f"We ask you to remove the content at {notice.url}. It depicts {who} without authorization: "
            f"our impersonation scanner's verdict is \u201c{notice.verdict}\u201d."
        ),
        para(
            f"The file we examined was \u201c{notice.file_name}\u201d, SHA-256 {notice.sha256}. "
            "Content our clinic publishes carries a C2PA signature and an invisible watermark; this file "
            "does not carry a valid one for this content."
        ),
        *[para(line) for line in notice.explanation],
        Spacer(1, 6 * mm),
        para(
            "We state in good faith that this use is not authorized by the clinician or by our clinic, and "
            "that the information in this notice is accurate."
        ),
        Spacer(1, 10 * mm),
        para(f"{notice.signed_by}, on behalf of {notice.clinic_name}"),
    ]
    document.build(story)
    return buffer.getvalue()
