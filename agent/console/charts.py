"""Tiny server-side SVG charts (bars and a line) for the results dashboard: no JS, no CDN.
Markup is built from numbers and escaped labels only."""

from __future__ import annotations

from html import escape

W, H, PAD_L, PAD_B, PAD_T = 560, 200, 44, 28, 14


def _fmt(v: float, unit: str) -> str:
    if unit == "$":
        return f"${v:,.0f}"
    if unit == "%":
        return f"{v:.0f}%"
    return f"{v:,.0f}" if v >= 10 else f"{v:.1f}".rstrip("0").rstrip(".")


def bars(
    series: list[tuple[str, float]], *, unit: str = "", title: str = "", alt: set[str] | None = None
) -> str:
    if not series:
        return ""
    top = max(v for _, v in series) or 1.0
    inner_w, inner_h = W - PAD_L - 8, H - PAD_B - PAD_T
    step = inner_w / len(series)
    bw = max(4.0, step * 0.62)
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
        f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 8}" y2="{H - PAD_B}"/>',
    ]
    for i, (label, value) in enumerate(series):
        h = inner_h * value / top
        x = PAD_L + i * step + (step - bw) / 2
        y = H - PAD_B - h
        cls = "bar alt" if alt and label in alt else "bar"
        parts.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" rx="3"/>'
        )
        parts.append(
            f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{escape(_fmt(value, unit))}</text>'
        )
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{H - 10}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line(series: list[tuple[str, float]], *, unit: str = "", title: str = "") -> str:
    if not series:
        return ""
    values = [v for _, v in series]
    lo, hi = min(values), max(values)
    lo, hi = (lo - 1, hi + 1) if hi == lo else (lo - (hi - lo) * 0.15, hi + (hi - lo) * 0.15)
    inner_w, inner_h = W - PAD_L - 36, H - PAD_B - PAD_T
    step = inner_w / max(1, len(series) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD_L + i * step, PAD_T + inner_h * (1 - (v - lo) / (hi - lo))

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
        f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 8}" y2="{H - PAD_B}"/>',
        f'<polyline class="line" points="{points}"/>',
    ]
    for i, (label, v) in enumerate(series):
        x, y = xy(i, v)
        parts.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>')
        parts.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{escape(_fmt(v, unit))}</text>')
        parts.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
