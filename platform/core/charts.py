"""Small server-drawn bar charts (SVG laid out here, drawn by `core/_bar_chart.html`).

No script and no inline style (the content security policy forbids both): the geometry is computed
here and written as SVG attributes; colours come from the stylesheet by series index. Every chart
carries its own text alternative: a title and a one-sentence summary for screen readers, and the
numbers as a table under a disclosure for anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

#: Drawing area of a chart, in SVG user units (the picture scales to its card's width).
WIDTH, HEIGHT = 640, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 36, 8, 10, 28
#: A horizontal chart's width (narrower: it shares a row with another), the height of one of its
#: rows, and the room its labels take on the left.
ROWS_WIDTH, ROW, _LABEL_WIDTH = 360, 30, 170


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    series: int
    tip: str


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class BarChart:
    """A chart ready to draw: rectangles, axis ticks and the same numbers as a table."""

    title: str
    summary: str
    horizontal: bool
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    labels: list[Tick] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    total: int = 0


def _nice_max(value: int) -> int:
    """The axis top: the smallest of 1, 2 or 5 times a power of ten at or above `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def day_buckets(end: date, days: int) -> list[date]:
    """The `days` calendar days ending with `end`, oldest first."""
    return [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def counted(count: int, unit: tuple[str, str]) -> str:
    """'No consents', '1 consent', '2 consents': `unit` is the (singular, plural) pair."""
    if count == 0:
        return f"No {unit[1]}"
    return f"{count} {unit[0] if count == 1 else unit[1]}"


def _padded(row: list[int], length: int) -> list[int]:
    return (row + [0] * length)[:length]


def time_chart(
    *,
    title: str,
    days: Sequence[date],
    counts: dict[date, list[int]],
    series: Sequence[str],
    unit: tuple[str, str],
) -> BarChart:
    """Stacked bars, one per day, one colour per series; `unit` names what is counted, as
    (singular, plural)."""
    values = [_padded(counts.get(day, []), len(series)) for day in days]
    totals = [sum(row) for row in values]
    total = sum(totals)
    top = _nice_max(max(totals, default=0) or 1)
    plot_width, plot_height = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_width / max(len(days), 1)
    chart = BarChart(title=title, summary="", horizontal=False, width=WIDTH, height=HEIGHT)
    chart.series = list(series)
    for index, (day, row) in enumerate(zip(days, values, strict=True)):
        x = _LEFT + index * slot + slot * 0.15
        base: float = _TOP + plot_height
        for series_index, value in enumerate(row):
            if not value:
                continue
            height = plot_height * value / top
            base -= height
            chart.rects.append(
                Rect(
                    round(x, 1),
                    round(base, 1),
                    round(slot * 0.7, 1),
                    round(height, 1),
                    series_index,
                    f"{day:%d %b}: {value} {series[series_index].lower()}",
                )
            )
        # A date under the last bar and every seventh before it (the first too, when it has room):
        # enough to read the axis by without two labels running into each other.
        from_end = len(days) - 1 - index
        if from_end % 7 == 0 or (index == 0 and from_end % 7 >= 4):
            anchor = "end" if from_end == 0 else "start" if index == 0 else "middle"
            centre = x + slot * 0.35
            chart.x_ticks.append(
                Tick(
                    round({"end": x + slot * 0.7, "start": x}.get(anchor, centre), 1),
                    HEIGHT - 8,
                    f"{day:%d %b}",
                    anchor,
                )
            )
    for fraction in (0.0, 0.5, 1.0):
        tick = top * fraction
        if tick == int(tick):
            chart.y_ticks.append(
                Tick(_LEFT - 6, round(_TOP + plot_height * (1 - fraction), 1), str(int(tick)))
            )
    busiest = max(range(len(days)), key=lambda i: totals[i]) if total else None
    chart.summary = (
        f"{counted(total, unit)} in the {len(days)} days from {days[0].day} {days[0]:%B} to {days[-1].day} {days[-1]:%B %Y}"
        + (
            f"; the busiest day was {days[busiest].day} {days[busiest]:%B} with {totals[busiest]}."
            if busiest is not None
            else "."
        )
    )
    chart.total = total
    chart.table_head = ["Day", *series, "All"]
    chart.table_rows = [
        [f"{day:%Y-%m-%d}", *(str(v) for v in row), str(sum(row))]
        for day, row in zip(days, values, strict=True)
        if sum(row)
    ]
    return chart


def category_chart(*, title: str, rows: Sequence[tuple[str, int, int]], unit: tuple[str, str]) -> BarChart:
    """Horizontal bars, one per (label, count, colour index) row, longest scale shared by all."""
    total = sum(count for _, count, _ in rows)
    top = _nice_max(max((count for _, count, _ in rows), default=0) or 1)
    height = _TOP + ROW * len(rows) + 6
    chart = BarChart(title=title, summary="", horizontal=True, width=ROWS_WIDTH, height=height)
    plot_width = ROWS_WIDTH - _LABEL_WIDTH - 36
    for index, (label, count, colour) in enumerate(rows):
        y = _TOP + index * ROW
        width = plot_width * count / top
        chart.labels.append(Tick(_LABEL_WIDTH - 8, y + ROW * 0.55, label))
        chart.rects.append(
            Rect(
                _LABEL_WIDTH,
                y + 4,
                round(max(width, 1.5 if count else 0), 1),
                ROW - 10,
                colour,
                f"{label}: {count}",
            )
        )
        chart.x_ticks.append(Tick(round(_LABEL_WIDTH + width + 6, 1), y + ROW * 0.55, str(count)))
    chart.summary = (
        f"{counted(total, unit)}: " + ", ".join(f"{count} {label.lower()}" for label, count, _ in rows) + "."
        if total
        else f"No {unit[1]} yet."
    )
    chart.total = total
    chart.table_head = ["State", "Count"]
    chart.table_rows = [[label, str(count)] for label, count, _ in rows]
    return chart
