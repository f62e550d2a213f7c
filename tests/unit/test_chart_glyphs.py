"""Charts draw Chinese with real glyphs, never the fallback's boxes (tofu).

Two checks: the font the charts resolve has a glyph for every character the report
draws, and drawn text is really the glyphs — with boxes, two different Chinese words
of the same length come out as identical pixels, and DejaVu Sans (which has no
Chinese) draws exactly those boxes.
"""

from __future__ import annotations

import io
import warnings

import pytest
from matplotlib.font_manager import FontProperties
from PIL import Image

from content.render import Renderer
from services.monthly_charts import chart_font, cjk_font, font_has, grouped_bars, text_png

pytestmark = pytest.mark.skipif(
    cjk_font() is None, reason="no font with Chinese glyphs is installed (Debian: "
                               "apt-get install fonts-wqy-microhei; .ci/run does)")


def drawn(text: str, font: FontProperties | None = None) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns of each missing glyph
        png = text_png(text, font)
    return Image.open(io.BytesIO(png)).convert("L").tobytes()


def test_the_chart_font_has_every_glyph_of_the_report() -> None:
    path = cjk_font()
    assert path is not None
    renderer = Renderer()
    texts = [renderer.plain(f"severity.{s}", "zh") for s in ("general", "serious", "major")]
    texts += [renderer.plain(f"monthly.series.{s}", "zh") for s in ("reported", "closed",
                                                                     "overdue")]
    texts += [renderer.plain("monthly.chart.units", "zh", unit="合成车间", month="2026-11")]
    assert all(font_has(path, text) for text in texts)
    assert chart_font().get_file() == path  # what the charts draw with


def test_chinese_is_drawn_as_glyphs_not_boxes() -> None:
    tofu = FontProperties(family="DejaVu Sans")
    # The fallback draws different words as the same boxes: the comparison can fail.
    assert drawn("班组", tofu) == drawn("隐患", tofu)
    assert drawn("班组") != drawn("隐患")  # real glyphs differ
    assert drawn("班组") != drawn("班组", tofu)
    blank = drawn("")
    assert drawn("班组") != blank  # and something was drawn at all


def test_a_chart_with_chinese_labels_renders_without_missing_glyph_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = grouped_bars("合成车间 2026-11 隐患按等级", ["一般", "较大", "重大"],
                           {"reported": [3, 2, 1], "closed": [1, 1, 0]},
                           {"reported": "上报", "closed": "关闭"})
    assert png.startswith(b"\x89PNG")
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
