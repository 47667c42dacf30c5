"""Inline SVG charts for the audit page: no scripts, fonts or images, so the page works offline."""

from __future__ import annotations

from html import escape

REAL_COLOR = "#1f77b4"
SYNTHETIC_COLOR = "#e6550d"
SERIES_COLORS = ("#7f7f7f", "#2ca02c", "#9467bd", "#8c564b", "#e6550d", "#17becf")
WIDTH = 420
HEIGHT = 220
MARGIN_LEFT = 44
MARGIN_BOTTOM = 48
MARGIN_TOP = 22


def grouped_bars(title: str, categories: list[str], real: list[float], synthetic: list[float]) -> str:
    """Draw real and synthetic shares per category as side-by-side bars."""
    top = max([*real, *synthetic, 1e-9])
    plot_width = WIDTH - MARGIN_LEFT - 10
    slot = plot_width / max(len(categories), 1)
    bars, labels = [], []
    for index, category in enumerate(categories):
        x = MARGIN_LEFT + index * slot
        for offset, (value, color) in enumerate(((real[index], REAL_COLOR), (synthetic[index], SYNTHETIC_COLOR))):
            height = _plot_height() * value / top
            bars.append(
                f'<rect x="{x + slot * (0.1 + 0.4 * offset):.1f}" y="{_y0() - height:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{escape(category)}: {value:.3f}</title></rect>'
            )
        labels.append(
            f'<text x="{x + slot / 2:.1f}" y="{_y0() + 12}" font-size="9" text-anchor="end" '
            f'transform="rotate(-35 {x + slot / 2:.1f} {_y0() + 12})">{escape(_shorten(category))}</text>'
        )
    return _frame(title, "".join(bars) + "".join(labels) + _y_axis(top) + _legend(("real", "synthetic")))


def histogram(title: str, edges: list[float], real: list[float], synthetic: list[float], *, labels=("real", "synthetic")) -> str:
    """Draw two histograms over shared bin edges as outlined steps."""
    top = max([*real, *synthetic, 1e-9])
    plot_width = WIDTH - MARGIN_LEFT - 10
    step = plot_width / max(len(real), 1)
    paths = []
    for values, color in ((real, REAL_COLOR), (synthetic, SYNTHETIC_COLOR)):
        points = []
        for index, value in enumerate(values):
            y = _y0() - _plot_height() * value / top
            points.append(f"{MARGIN_LEFT + index * step:.1f},{y:.1f} {MARGIN_LEFT + (index + 1) * step:.1f},{y:.1f}")
        paths.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="2"/>')
    ticks = (
        f'<text x="{MARGIN_LEFT}" y="{_y0() + 14}" font-size="9">{_number(edges[0])}</text>'
        f'<text x="{WIDTH - 10}" y="{_y0() + 14}" font-size="9" text-anchor="end">{_number(edges[-1])}</text>'
    )
    return _frame(title, "".join(paths) + ticks + _y_axis(top) + _legend(labels))


def heatmap(title: str, columns: list[str], matrix: list[list[float]]) -> str:
    """Draw a square matrix of values in [0, 1] as shaded cells, with the value in each cell's tooltip."""
    size = len(columns)
    label_width = 110
    cell = max(8.0, min(26.0, (WIDTH - label_width) / max(size, 1)))
    height = label_width + cell * size + 10
    cells = []
    for i in range(size):
        for j in range(size):
            value = matrix[i][j]
            cells.append(
                f'<rect x="{label_width + j * cell:.1f}" y="{label_width + i * cell:.1f}" width="{cell:.1f}" '
                f'height="{cell:.1f}" fill="{_shade(value)}"><title>{escape(columns[i])} × {escape(columns[j])}: '
                f"{value:.3f}</title></rect>"
            )
    names = []
    for index, name in enumerate(columns):
        center = label_width + (index + 0.5) * cell
        names.append(
            f'<text x="{label_width - 4}" y="{center + 3:.1f}" font-size="9" text-anchor="end">{escape(_shorten(name))}</text>'
            f'<text x="{center:.1f}" y="{label_width - 4}" font-size="9" transform="rotate(-60 {center:.1f} {label_width - 4})">'
            f"{escape(_shorten(name))}</text>"
        )
    body = "".join(cells) + "".join(names)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}"><title>{escape(title)}</title>'
        f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>{body}</svg>'
    )


def curves(title: str, series: list[tuple[str, list[float], list[float]]], *, x_label: str, y_label: str) -> str:
    """Draw lines in the unit square, one per (name, xs, ys) series."""
    lines = []
    for index, (_, xs, ys) in enumerate(series):
        points = " ".join(f"{_x(x):.1f},{_y(y):.1f}" for x, y in zip(xs, ys))
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        lines.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.8"/>')
    axes = (
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 14}" font-size="10" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="{MARGIN_LEFT}" y="{_y0() + 12}" font-size="9">0</text>'
        f'<text x="{WIDTH - 10}" y="{_y0() + 12}" font-size="9" text-anchor="end">1</text>'
    )
    legend = "".join(
        f'<rect x="{WIDTH - 150}" y="{MARGIN_TOP + 4 + 12 * index}" width="10" height="3" '
        f'fill="{SERIES_COLORS[index % len(SERIES_COLORS)]}"/><text x="{WIDTH - 136}" y="{MARGIN_TOP + 9 + 12 * index}" '
        f'font-size="9">{escape(name)}</text>'
        for index, (name, _, _) in enumerate(series)
    )
    return _frame(title, "".join(lines) + axes + _y_axis(1.0, label=y_label) + legend)


def _frame(title: str, body: str) -> str:
    axis = f'<line x1="{MARGIN_LEFT}" y1="{_y0()}" x2="{WIDTH - 10}" y2="{_y0()}" stroke="#333"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{escape(title)}</title>'
        f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(_shorten(title, 60))}</text>{axis}{body}</svg>'
    )


def _y_axis(top: float, label: str = "share") -> str:
    return (
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{_y0()}" stroke="#333"/>'
        f'<text x="{MARGIN_LEFT - 3}" y="{MARGIN_TOP + 8}" font-size="9" text-anchor="end">{_number(top)}</text>'
        f'<text x="{MARGIN_LEFT - 3}" y="{_y0()}" font-size="9" text-anchor="end">0</text>'
        f'<text x="10" y="{(MARGIN_TOP + _y0()) / 2:.0f}" font-size="9" transform="rotate(-90 10 {(MARGIN_TOP + _y0()) / 2:.0f})" '
        f'text-anchor="middle">{escape(label)}</text>'
    )


def _legend(names: tuple[str, str]) -> str:
    return "".join(
        f'<rect x="{WIDTH - 150 + 70 * index}" y="6" width="10" height="10" fill="{color}"/>'
        f'<text x="{WIDTH - 136 + 70 * index}" y="15" font-size="10">{escape(name)}</text>'
        for index, (name, color) in enumerate(zip(names, (REAL_COLOR, SYNTHETIC_COLOR)))
    )


def _shade(value: float) -> str:
    # White at 0, dark blue at 1; values are clipped into [0, 1].
    level = min(max(value, 0.0), 1.0)
    red, green, blue = (round(255 - (255 - 8) * level), round(255 - (255 - 48) * level), round(255 - (255 - 107) * level))
    return f"rgb({red},{green},{blue})"


def _plot_height() -> float:
    return HEIGHT - MARGIN_TOP - MARGIN_BOTTOM


def _y0() -> float:
    return HEIGHT - MARGIN_BOTTOM


def _x(value: float) -> float:
    return MARGIN_LEFT + (WIDTH - MARGIN_LEFT - 10) * value


def _y(value: float) -> float:
    return _y0() - _plot_height() * value


def _number(value: float) -> str:
    return f"{value:.3g}"


def _shorten(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
