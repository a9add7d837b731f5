"""Charts as inline SVG, rendered on the server: no script, no asset to fetch, readable offline.

Their words and numbers are in the reader's language (``lang``: Indonesian unless told otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from services.reporting.entrypoints.language import ID
from shared.kernel.i18n import Language

BLUE = "#2563eb"
GREEN = "#16a34a"
GREY = "#94a3b8"


def hbar(
    items: Sequence[tuple[str, float | None, str]], *, title: str, width: int = 560, lang: Language = ID
) -> Markup:
    """Horizontal bars of ratios (0..1): (label, ratio, annotation)."""
    _ = lang.gettext
    row, left, right = 22, 170, 90
    height = 28 + row * max(1, len(items))
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    span = width - left - right
    for i, (label, ratio, note) in enumerate(items):
        y = 24 + i * row
        w = 0 if ratio is None else max(1, round(span * min(1.0, max(0.0, ratio))))
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label[:28])}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="{row - 8}" fill="#eef2f7"/>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{w}" height="{row - 8}" fill="{GREEN}"/>')
        shown = _("n/a") if ratio is None else lang.percent(ratio, 0)
        out.append(f'<text x="{left + span + 6}" y="{y + 14}">{escape(shown)} {escape(note)}</text>')
    if not items:
        empty = _("no data yet")
        out.append(f'<text x="{left}" y="38" fill="{GREY}">{escape(empty)}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text part above went through escape()


def line(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    width: int = 560,
    height: int = 200,
    lang: Language = ID,
) -> Markup:
    """A line of ratios (0..1) over labelled steps, e.g. attendance over the days of a training."""
    _ = lang.gettext
    left, bottom, top, right = 40, 30, 24, 16
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{lang.percent(tick, 0)}</text>')
    n = len(points)
    coords: list[tuple[float, float, str, float]] = []
    for i, (label, ratio) in enumerate(points):
        x = left + (plot_w * (i + 0.5) / n if n else 0)
        out.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle">{escape(label)}</text>')
        if ratio is not None:
            coords.append((x, top + plot_h * (1 - min(1.0, max(0.0, ratio))), label, ratio))
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
        out.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    for x, y, label, ratio in coords:
        tip = f"<title>{escape(label)}: {lang.percent(ratio, 0)}</title>"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{BLUE}">{tip}</circle>')
        out.append(
            f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" class="point">{lang.percent(ratio, 0)}</text>'
        )
    if not coords:
        empty = _("no attendance recorded yet")
        out.append(f'<text x="{left + 8}" y="{top + 20}" fill="{GREY}">{escape(empty)}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text part above went through escape()


def pre_post(
    items: Sequence[tuple[str, float | None, float | None]], *, title: str, width: int = 560, lang: Language = ID
) -> Markup:
    """Pairs of bars: mean pre-test and post-test score (percent of the maximum) per label."""
    _ = lang.gettext
    pre_label, post_label = _("pre"), _("post")
    row, left, right = 34, 170, 110
    height = 40 + row * max(1, len(items))
    span = width - left - right
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
        f'<rect x="{left}" y="20" width="10" height="10" fill="{GREY}"/>',
        f'<text x="{left + 14}" y="29">{escape(pre_label)}</text>',
        f'<rect x="{left + 50}" y="20" width="10" height="10" fill="{BLUE}"/>',
        f'<text x="{left + 64}" y="29">{escape(post_label)}</text>',
    ]
    for i, (label, pre, post) in enumerate(items):
        y = 36 + i * row
        out.append(f'<text x="{left - 6}" y="{y + 18}" text-anchor="end">{escape(label[:28])}</text>')
        for j, (value, colour) in enumerate(((pre, GREY), (post, BLUE))):
            w = 0 if value is None else round(span * min(100.0, max(0.0, value)) / 100)
            out.append(f'<rect x="{left}" y="{y + 3 + j * 13}" width="{w}" height="11" fill="{colour}"/>')
        if pre is None or post is None:
            gain = _("n/a")
        else:
            sign = "+" if post >= pre else "-"
            gain = _("%(gain)s pts") % {"gain": sign + lang.number(abs(post - pre))}
        pre_s = _("n/a") if pre is None else lang.number(pre)
        post_s = _("n/a") if post is None else lang.number(post)
        shown = f"{pre_s} → {post_s} ({gain})"
        out.append(f'<text x="{left + span + 6}" y="{y + 18}">{escape(shown)}</text>')
    if not items:
        empty = _("no scores yet")
        out.append(f'<text x="{left}" y="52" fill="{GREY}">{escape(empty)}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text part above went through escape()
