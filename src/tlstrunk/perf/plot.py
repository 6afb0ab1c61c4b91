"""An SVG line plot of call setup time against offered rate, written by hand.

The plot has two lines per system (p50 solid, p99 dashed) on a logarithmic
time axis, because a relay in C and a node in Python differ by orders of
magnitude. Writing a few dozen SVG elements avoids a plotting dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 220, 30, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


@dataclass(frozen=True)
class Series:
    """One system's setup-time percentiles (milliseconds) at each offered rate."""

    name: str
    rates: Sequence[float]
    p50: Sequence[float | None]
    p99: Sequence[float | None]


def _ticks_log(low: float, high: float) -> list[float]:
    first = math.floor(math.log10(low))
    last = math.ceil(math.log10(high))
    return [10.0**power for power in range(first, last + 1)]


def setup_time_svg(series: Sequence[Series], title: str) -> str:
    """Return an SVG document plotting p50 and p99 setup time against offered rate."""
    rates = [rate for item in series for rate in item.rates]
    times = [t for item in series for t in [*item.p50, *item.p99] if t is not None and t > 0]
    if not rates or not times:
        return _document(title, ['<text x="80" y="200">no calls connected</text>'])
    max_rate = max(rates) * 1.05
    y_ticks = _ticks_log(min(times), max(times))
    low, high = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(rate: float) -> float:
        return LEFT + plot_w * rate / max_rate

    def y(ms: float) -> float:
        span = (high - low) or 1.0
        return TOP + plot_h * (1 - (math.log10(ms) - low) / span)

    parts = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="black"/>',
    ]
    for tick in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{LEFT + plot_w}" y2="{y(tick):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    for index in range(6):
        rate = max_rate * index / 5
        parts.append(
            f'<text x="{x(rate):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
            f"{rate:.0f}</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        "offered rate (calls per second)</text>"
    )
    parts.append(
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">setup time (ms, log scale)</text>'
    )
    for index, item in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        for values, dash, label in ((item.p50, "", "p50"), (item.p99, "6,4", "p99")):
            points = [
                f"{x(rate):.1f},{y(ms):.1f}"
                for rate, ms in zip(item.rates, values, strict=True)
                if ms is not None and ms > 0
            ]
            if points:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2" stroke-dasharray="{dash}"/>'
                )
            legend_y = TOP + 20 + (index * 2 + (label == "p99")) * 20
            parts.append(
                f'<line x1="{WIDTH - RIGHT + 15}" y1="{legend_y}" x2="{WIDTH - RIGHT + 45}" '
                f'y2="{legend_y}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
            )
            parts.append(
                f'<text x="{WIDTH - RIGHT + 50}" y="{legend_y + 4}">'
                f"{escape(_short(item.name))} {label}</text>"
            )
    return _document(title, parts)


def _short(name: str) -> str:
    return name.split(",")[0] + (" (2 nodes)" if "two nodes" in name else "")


def _document(title: str, parts: list[str]) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">\n'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>\n'
        f'<text x="{LEFT}" y="18" font-size="14">{escape(title)}</text>\n{body}\n</svg>\n'
    )
