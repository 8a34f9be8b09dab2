"""The score-over-time plot of a scan, as coordinates for an inline SVG drawn by the template."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, MARGIN = 640, 220, 32
COLOURS = ("#b3261e", "#1f5fa8", "#1b6e20", "#8a5a00", "#6a1b9a", "#00695c", "#555555", "#c2185b")


def timeline_plot(timeline: dict[str, list[list[float]]]) -> dict[str, Any] | None:
    """Polyline points per analyzer on shared axes (seconds × score 0-1), or None with no series."""
    series = {name: points for name, points in timeline.items() if points}
    if not series:
        return None
    end = max(point[0] for points in series.values() for point in points) or 1.0
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def xy(seconds: float, score: float) -> str:
        x = MARGIN + inner_w * seconds / end
        y = MARGIN + inner_h * (1.0 - min(1.0, max(0.0, score)))
        return f"{x:.1f},{y:.1f}"

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": MARGIN,
        "right": WIDTH - MARGIN,
        "top": MARGIN,
        "bottom": HEIGHT - MARGIN,
        "end_seconds": round(end, 1),
        "series": [
            {
                "name": name,
                "colour": COLOURS[number % len(COLOURS)],
                "points": " ".join(xy(t, s) for t, s in points),
            }
            for number, (name, points) in enumerate(sorted(series.items()))
        ],
    }
