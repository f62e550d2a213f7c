"""The monthly report's charts as PNG: the twelve-month trend, by level, by unit.

matplotlib's object API on the Agg canvas: no display, no pyplot state shared
between reports. Chinese needs a CJK font; :func:`cjk_font` finds one installed
(WenQuanYi Micro Hei, Noto Sans CJK, Source Han Sans, SimHei, …; Debian's
``fonts-wqy-microhei`` is what CI installs), and without one the charts still render
and the log says that Chinese will show as boxes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

log = logging.getLogger(__name__)

# Tried by name first, in this order; then any installed font that has Chinese glyphs.
CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC",
                "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Droid Sans Fallback",
                "AR PL UMing CN")
_PROBE = "班组隐患"  # characters a CJK font must have
COLOURS = {"reported": "#d9822b", "closed": "#2b8a3e", "overdue": "#c92a2a"}
DPI = 110


def font_has(path: str, text: str) -> bool:
    """Whether the font file maps every character of ``text`` to a glyph."""
    from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]

    try:
        fonts = (TTCollection(path).fonts if path.lower().endswith((".ttc", ".otc"))
                 else [TTFont(path, lazy=True)])
        cmap = fonts[0].getBestCmap() or {}
    except Exception:  # an unreadable font file is simply not a candidate
        return False
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


@cache
def cjk_font() -> str | None:
    """The path of an installed font with Chinese glyphs, or None."""
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(FontProperties(family=family),
                                         fallback_to_default=False)
        except ValueError:
            continue
        if font_has(path, _PROBE):
            return str(path)
    for entry in font_manager.fontManager.ttflist:
        # matplotlib's Last Resort font maps every character, to a box: not Chinese.
        if "lastresort" in entry.fname.lower().replace(" ", ""):
            continue
        if font_has(entry.fname, _PROBE):
            return str(entry.fname)
    log.warning("no font with Chinese glyphs is installed: chart texts in Chinese will show "
                "as boxes (install fonts-wqy-microhei)")
    return None


def chart_font() -> FontProperties:
    """The font every chart text is drawn in (the CJK font when there is one)."""
    path = cjk_font()
    return FontProperties(fname=path) if path else FontProperties(family="DejaVu Sans")


@dataclass(frozen=True)
class Chart:
    """One rendered chart."""

    filename: str
    png: bytes
    title: str


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)  # type: ignore[no-untyped-call]
    return buffer.getvalue()


def _style(axes: object, font: FontProperties) -> None:
    for label in (*axes.get_xticklabels(), *axes.get_yticklabels()):  # type: ignore[attr-defined]
        label.set_fontproperties(font)


def text_png(text: str, font: FontProperties | None = None, size: int = 28) -> bytes:
    """``text`` alone, drawn in ``font`` (the glyph test compares such drawings)."""
    figure = Figure(figsize=(3, 1), dpi=80)
    figure.text(0.05, 0.3, text, fontproperties=font or chart_font(), fontsize=size)
    return _png(figure)


def trend_chart(title: str, months: Sequence[str], series: Mapping[str, Sequence[int]],
                labels: dict[str, str]) -> bytes:
    """Lines per series over the months (reported and closed hazards)."""
    font = chart_font()
    figure = Figure(figsize=(8, 4), dpi=DPI)
    axes = figure.add_subplot()
    for name, values in series.items():
        axes.plot(list(months), list(values), marker="o", label=labels[name],
                  color=COLOURS.get(name))
    axes.set_title(title, fontproperties=font, fontsize=13)
    axes.legend(prop=font)
    axes.grid(True, alpha=0.3)
    axes.tick_params(axis="x", labelrotation=45)
    _style(axes, font)
    figure.tight_layout()
    return _png(figure)


def grouped_bars(title: str, groups: Sequence[str], series: Mapping[str, Sequence[float]],
                 labels: dict[str, str], horizontal: bool = False) -> bytes:
    """Bars per group, one per series side by side (by level, by unit)."""
    font = chart_font()
    height = max(4.0, 0.45 * len(groups) + 1.5) if horizontal else 4.0
    figure = Figure(figsize=(8, height), dpi=DPI)
    axes = figure.add_subplot()
    width = 0.8 / max(len(series), 1)
    positions = list(range(len(groups)))
    for index, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
        if horizontal:
            axes.barh(offsets, list(values), height=width, label=labels[name],
                      color=COLOURS.get(name))
        else:
            axes.bar(offsets, list(values), width=width, label=labels[name],
                     color=COLOURS.get(name))
    if horizontal:
        axes.set_yticks(positions, list(groups))
        axes.invert_yaxis()
    else:
        axes.set_xticks(positions, list(groups))
    axes.set_title(title, fontproperties=font, fontsize=13)
    axes.legend(prop=font)
    axes.grid(True, axis="x" if horizontal else "y", alpha=0.3)
    _style(axes, font)
    figure.tight_layout()
    return _png(figure)


def font_file_name(path: str | None) -> str:
    """The font's file name, for logs and the CLI."""
    return Path(path).name if path else "none"
