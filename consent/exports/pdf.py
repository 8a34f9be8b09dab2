"""The consent evidence report: an A4 PDF for auditors, reproducible byte for byte.

The same inputs give the same bytes (reportlab's invariant mode, creation date taken from
`generated_at`, fonts shipped inside the reportlab wheel rather than whatever the host has), so the
SHA-256 that the caller records in the ledger can be recomputed from the same records later.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from consent.exports.records import ConsentRecord, IntegrityRecord, LedgerEventRecord, SignatureRecord

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

FOOTER_TEXT = "Candor evidence report — the SHA-256 of this file is recorded in the ledger"

_FONT = "CandorVera"
_FONT_BOLD = "CandorVera-Bold"
_FONT_ITALIC = "CandorVera-Italic"
_MONO = "Courier"

_KIND_LABELS = {
    "likeness": "Likeness",
    "patient_recording": "Patient: recording",
    "patient_anonymization": "Patient: anonymization",
    "patient_use": "Patient: use of video",
}
_STATUS_COLOURS = {
    "active": "#1b6e20",
    "granted": "#1b6e20",
    "revoked": "#b3261e",
    "withdrawn": "#b3261e",
    "expired": "#8a5a00",
    "superseded": "#555555",
}


def _register_fonts() -> None:
    # Bitstream Vera ships inside reportlab, so every host embeds the same glyphs and the bytes match.
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(_FONT, str(fonts / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(_FONT_BOLD, str(fonts / "VeraBd.ttf")))
    pdfmetrics.registerFont(TTFont(_FONT_ITALIC, str(fonts / "VeraIt.ttf")))
    pdfmetrics.registerFont(TTFont(f"{_FONT}-BoldItalic", str(fonts / "VeraBI.ttf")))
    # Lets <b> and <i> inside Paragraphs find the right face.
    addMapping(_FONT, 0, 0, _FONT)
    addMapping(_FONT, 1, 0, _FONT_BOLD)
    addMapping(_FONT, 0, 1, _FONT_ITALIC)
    addMapping(_FONT, 1, 1, f"{_FONT}-BoldItalic")


def _utc(value: datetime | None, *, suffix: bool = True) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} in evidence report")
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} UTC" if suffix else text


def _text(value: str) -> str:
    """Escape user data for Paragraph markup, which would otherwise interpret < and &."""
    return escape(value)


def _hash_lines(value: str, width: int = 32) -> str:
    return "<br/>".join(_text(value[i : i + width]) for i in range(0, len(value), width)) or "—"


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib import colors
        from reportlab.lib.styles import ParagraphStyle

        base = ParagraphStyle("base", fontName=_FONT, fontSize=9, leading=12)
        self.body = base
        self.title = ParagraphStyle("title", base, fontName=_FONT_BOLD, fontSize=18, leading=22, spaceAfter=2)
        self.subtitle = ParagraphStyle("subtitle", base, fontSize=11, leading=14, spaceAfter=10)
        self.heading = ParagraphStyle(
            "heading", base, fontName=_FONT_BOLD, fontSize=12, leading=15, spaceBefore=12, spaceAfter=6
        )
        self.cell = ParagraphStyle("cell", base, fontSize=7.5, leading=9.5)
        self.cell_head = ParagraphStyle("cell_head", self.cell, fontName=_FONT_BOLD, textColor=colors.white)
        self.mono = ParagraphStyle("mono", self.cell, fontName=_MONO, fontSize=7, leading=8.5)
        self.ok = ParagraphStyle(
            "ok", base, fontName=_FONT_BOLD, fontSize=10, textColor=colors.HexColor("#1b6e20")
        )
        self.bad = ParagraphStyle(
            "bad", base, fontName=_FONT_BOLD, fontSize=10, textColor=colors.HexColor("#b3261e")
        )


def _table(rows: list[list[Any]], widths: list[float], *, header: bool, split_rows: bool = False) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(
        rows,
        colWidths=widths,
        repeatRows=1 if header else 0,
        splitInRow=1 if split_rows else 0,
        hAlign="LEFT",
    )
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b7bf")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands += [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#2f4858")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f4f6")]),
        ]
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f4f6")))
    table.setStyle(TableStyle(commands))
    return table


def _key_values(pairs: Sequence[tuple[str, str]], styles: _Styles, width: float) -> Any:
    from reportlab.platypus import Paragraph

    rows = [
        [Paragraph(f"<b>{_text(key)}</b>", styles.cell), Paragraph(value, styles.cell)]
        for key, value in pairs
    ]
    return _table(rows, [width * 0.25, width * 0.75], header=False)


def _integrity_flowables(integrity: IntegrityRecord, styles: _Styles, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    if integrity.verified:
        verdict = Paragraph(
            f"Verified: all {integrity.entry_count} entries recompute to the recorded root hash.", styles.ok
        )
    elif integrity.first_bad_seq is not None:
        verdict = Paragraph(
            f"NOT VERIFIED: entry {integrity.first_bad_seq} is the first that does not match.", styles.bad
        )
    else:
        verdict = Paragraph("NOT VERIFIED: the recomputed root does not match.", styles.bad)
    mono = styles.mono
    pairs: list[tuple[str, str]] = [
        ("Entries", str(integrity.entry_count)),
        ("Root hash (SHA-256)", f'<font name="{_MONO}">{_text(integrity.root_hash)}</font>'),
    ]
    if integrity.head_tree_size is None:
        pairs.append(("Latest signed tree head", "none issued yet"))
    else:
        signature = integrity.head_signature or "—"
        pairs += [
            ("Signed tree head: size", str(integrity.head_tree_size)),
            ("Signed tree head: time", _text(_utc(integrity.head_timestamp))),
            (
                "Signed tree head: key id",
                f'<font name="{_MONO}">{_text(integrity.head_key_id or "—")}</font>',
            ),
            (
                "Signed tree head: Ed25519 signature (base64)",
                f'<font name="{_MONO}" size="{mono.fontSize}">{_hash_lines(signature, 64)}</font>',
            ),
        ]
    return [verdict, _key_values(pairs, styles, width)]


def _scope_summary(record: ConsentRecord) -> str:
    if record.kind != "likeness":
        lines = [f"Purpose: {_text(record.purpose)}", f"Legal basis: {_text(record.legal_basis)}"]
    else:
        lines = [
            f"Topics: {_text(', '.join(record.topics) or 'none')}",
            f"Audiences: {_text(', '.join(record.audiences) or 'none')}",
            f"Languages: {_text(', '.join(record.languages) or 'none')}",
            f"Channels: {_text(', '.join(record.channels) or 'none')}",
            f"Synthetic voice: {'allowed' if record.synthetic_voice_allowed else 'not allowed'}",
            f"Max videos: {record.max_videos if record.max_videos is not None else 'no cap'}",
        ]
        if record.representation:
            lines.append(f"Represented by: {_text(record.representation)}")
    return "<br/>".join(lines)


def _validity(record: ConsentRecord) -> str:
    label = '<font size="6.5" color="#555555">{}</font><br/>{}'
    lines = [
        label.format("From", _utc(record.valid_from, suffix=False)),
        label.format("Until", _utc(record.valid_until, suffix=False)),
    ]
    if record.granted_at is not None:
        lines.append(label.format("Granted", _utc(record.granted_at, suffix=False)))
    if record.revoked_at is not None:
        lines.append(
            label.format("Revoked", f'<font color="#b3261e">{_utc(record.revoked_at, suffix=False)}</font>')
        )
    return "<br/>".join(lines)


def _signature_cell(signature: SignatureRecord | None) -> str:
    if signature is None:
        return "<i>not signed</i>"
    return (
        f"<b>{_text(signature.printed_name)}</b><br/>"
        f"{_utc(signature.signed_at, suffix=False)}<br/>"
        f"<i>“{_text(signature.meaning)}”</i><br/>"
        f"Re-authenticated with {_text(signature.reauthenticated_with)}<br/>"
        f'Binding SHA-256:<br/><font name="{_MONO}" size="6">{_hash_lines(signature.binding_sha256)}</font>'
    )


def _consent_table(
    consents: Sequence[ConsentRecord], styles: _Styles, width: float, *, split_rows: bool
) -> Any:
    from reportlab.platypus import Paragraph

    head = ["Subject", "Kind and status", "Scope", "Validity (UTC)", "Signature (UTC)"]
    rows: list[list[Any]] = [[Paragraph(h, styles.cell_head) for h in head]]
    for record in consents:
        colour = _STATUS_COLOURS.get(record.status, "#1f2933")
        subject = (
            f"<b>{_text(record.subject_display or record.subject_id)}</b><br/>"
            f"{_text(record.subject_role)}<br/>"
            f'<font size="6.5" color="#555555">{_text(record.subject_id)}</font>'
        )
        kind = (
            f"{_text(_KIND_LABELS.get(record.kind, record.kind))}<br/>"
            f'<font color="{colour}"><b>{_text(record.status)}</b></font><br/>'
            f'<font size="6.5" color="#555555">{_text(record.id)}<br/>'
            f"text {_text(record.text_id)} v{record.text_version} ({_text(record.text_language)})</font>"
        )
        rows.append(
            [
                Paragraph(subject, styles.cell),
                Paragraph(kind, styles.cell),
                Paragraph(_scope_summary(record), styles.cell),
                Paragraph(_validity(record), styles.cell),
                Paragraph(_signature_cell(record.signature), styles.cell),
            ]
        )
    fractions = [0.14, 0.14, 0.22, 0.19, 0.31]
    return _table(rows, [width * f for f in fractions], header=True, split_rows=split_rows)


def _event_table(
    events: Sequence[LedgerEventRecord], styles: _Styles, width: float, *, split_rows: bool
) -> Any:
    from reportlab.platypus import Paragraph

    head = ["Seq", "Time (UTC)", "Event type", "Leaf hash", "Summary"]
    rows: list[list[Any]] = [[Paragraph(h, styles.cell_head) for h in head]]
    for event in events:
        rows.append(
            [
                Paragraph(str(event.seq), styles.cell),
                Paragraph(_utc(event.created_at, suffix=False), styles.cell),
                Paragraph(_text(event.event_type), styles.cell),
                Paragraph(_text(event.leaf_hash[:16]), styles.mono),
                Paragraph(_text(event.summary), styles.cell),
            ]
        )
    fractions = [0.08, 0.19, 0.2, 0.16, 0.37]
    return _table(rows, [width * f for f in fractions], header=True, split_rows=split_rows)


def _canvas_class(*, generated_at: datetime, footer: str) -> type[Canvas]:
    """A canvas that numbers pages "x of y" and dates the file from the report, not the clock."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    created = generated_at.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")

    class EvidenceCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_: created)
            self._page_states: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            # The total is unknown until the last page, so pages are held back and finished in save().
            self._page_states.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # what showPage() does once the page is out

        def save(self) -> None:
            total = len(self._page_states)
            for number, state in enumerate(self._page_states, start=1):
                self.__dict__.update(state)
                width, _ = A4
                self.setStrokeColor(colors.HexColor("#b0b7bf"))
                self.setLineWidth(0.4)
                self.line(18 * mm, 14 * mm, width - 18 * mm, 14 * mm)
                self.setFont(_FONT, 7.5)
                self.setFillColor(colors.HexColor("#444444"))
                self.drawString(18 * mm, 10 * mm, footer)
                self.drawRightString(width - 18 * mm, 10 * mm, f"Page {number} of {total}")
                super().showPage()
            super().save()

    return EvidenceCanvas


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def evidence_report_pdf(
    *,
    clinic_name: str,
    generated_at: datetime,
    generated_by: str,
    filters: Mapping[str, str],
    consents: Sequence[ConsentRecord],
    events: Sequence[LedgerEventRecord],
    integrity: IntegrityRecord,
) -> bytes:
    """Render the consent evidence report as A4 PDF bytes.

    Sections: who generated it and when, the filters used, the ledger's integrity (verified, or the
    first bad entry, and the latest signed tree head), the consents with their scope, validity and
    Part 11 signature manifestation, and the ledger events. Every page carries "Page x of y" and
    the footer saying that the file's SHA-256 is recorded in the ledger. Identical inputs give
    identical bytes. Datetimes must be timezone-aware (ValueError otherwise).
    """
    _register_fonts()
    report = _Report(
        clinic_name=clinic_name,
        generated_at=generated_at,
        generated_by=generated_by,
        filters=filters,
        consents=consents,
        events=events,
        integrity=integrity,
    )
    from reportlab.platypus.doctemplate import LayoutError

    try:
        return report.build(split_rows=False)
    except LayoutError:
        # Rows are kept whole so a consent never straddles two pages; a row taller than a page
        # (a very long meaning or summary) cannot be, so only then are rows allowed to split.
        return report.build(split_rows=True)


@dataclass(frozen=True)
class _Report:
    clinic_name: str
    generated_at: datetime
    generated_by: str
    filters: Mapping[str, str]
    consents: Sequence[ConsentRecord]
    events: Sequence[LedgerEventRecord]
    integrity: IntegrityRecord

    def build(self, *, split_rows: bool) -> bytes:
        # Imported here: reportlab is only needed when someone asks for a report.
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate

        styles = _Styles()
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=16 * mm,
            bottomMargin=20 * mm,
            title=f"Consent evidence report — {self.clinic_name}",
            author=self.generated_by,
            subject=f"Generated {_utc(self.generated_at)}",
            creator="Candor",
            producer="Candor (ReportLab)",
            invariant=True,
        )
        width = doc.width
        filter_text = "; ".join(f"{_text(key)}: {_text(value)}" for key, value in self.filters.items())
        story: list[Any] = [
            Paragraph("Consent evidence report", styles.title),
            Paragraph(_text(self.clinic_name), styles.subtitle),
            _key_values(
                [
                    ("Generated at", _utc(self.generated_at)),
                    ("Generated by", _text(self.generated_by)),
                    ("Filters", filter_text or "none (everything)"),
                    (
                        "Contents",
                        f"{_counted(len(self.consents), 'consent')}, {_counted(len(self.events), 'ledger event')}",
                    ),
                ],
                styles,
                width,
            ),
            Paragraph("Ledger integrity", styles.heading),
            *_integrity_flowables(self.integrity, styles, width),
            Paragraph(f"Consents ({len(self.consents)})", styles.heading),
            _consent_table(self.consents, styles, width, split_rows=split_rows)
            if self.consents
            else Paragraph("No consents match.", styles.body),
            Paragraph(f"Ledger events ({len(self.events)})", styles.heading),
            _event_table(self.events, styles, width, split_rows=split_rows)
            if self.events
            else Paragraph("No events match.", styles.body),
        ]
        doc.build(story, canvasmaker=_canvas_class(generated_at=self.generated_at, footer=FOOTER_TEXT))
        return buffer.getvalue()


@dataclass(frozen=True)
class ReportSection:
    """One section of a plain report: a heading, paragraphs of plain text and an optional table
    (first row is the header)."""

    heading: str
    paragraphs: Sequence[str] = ()
    table: Sequence[Sequence[str]] = ()


def plain_report_pdf(
    *,
    title: str,
    subtitle: str,
    generated_at: datetime,
    author: str,
    facts: Sequence[tuple[str, str]],
    sections: Sequence[ReportSection],
    footer: str,
) -> bytes:
    """A short A4 report in the evidence report's fonts, tables and page footer (other apps' reports,
    e.g. an anonymization's residual risk). All text is plain and escaped here; identical inputs
    give identical bytes."""
    _register_fonts()
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = _Styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=author,
        subject=f"Generated {_utc(generated_at)}",
        creator="Candor",
        producer="Candor (ReportLab)",
        invariant=True,
    )
    width = doc.width
    story: list[Any] = [
        Paragraph(_text(title), styles.title),
        Paragraph(_text(subtitle), styles.subtitle),
        _key_values([(key, _text(value)) for key, value in facts], styles, width),
    ]
    for section in sections:
        story.append(Paragraph(_text(section.heading), styles.heading))
        story.extend(Paragraph(_text(paragraph), styles.body) for paragraph in section.paragraphs)
        if section.table:
            columns = len(section.table[0])
            rows = [
                [Paragraph(_text(cell), styles.cell_head if index == 0 else styles.cell) for cell in row]
                for index, row in enumerate(section.table)
            ]
            story.append(_table(rows, [width / columns] * columns, header=True, split_rows=True))
    doc.build(story, canvasmaker=_canvas_class(generated_at=generated_at, footer=footer))
    return buffer.getvalue()
