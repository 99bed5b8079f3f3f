"""Shared PDF plumbing (reportlab): an embedded CJK TrueType font, styles, signature blocks.

Reportlab can embed TrueType outlines but not the OpenType/CFF Noto CJK files, so the PDFs embed
WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``, installed by scripts/setup). The glyphs are
embedded (subset), so the Chinese renders on a machine with no Chinese fonts installed.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, Table, TableStyle

FONT_NAME = "WQYMicroHei"
FONT_CANDIDATES = (
    os.environ.get("FDOCTOR_CJK_FONT", ""),
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)


class FontMissingError(RuntimeError):
    pass


@cache
def cjk_font() -> str:
    """Register the CJK TrueType font once; return its reportlab name."""
    for candidate in FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            pdfmetrics.registerFont(TTFont(FONT_NAME, candidate, subfontIndex=0))
            return FONT_NAME
    raise FontMissingError("找不到中文字体（fonts-wqy-microhei），请先运行 scripts/setup 安装字体")


# C0 controls (other than tab and newline) and DEL: reportlab cannot lay them out.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def paragraph(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text. Reportlab parses a Paragraph's text as markup (``<b>``,
    ``<a href>``, ``<img src>``), so every report builds its paragraphs here, where names,
    reasons and notes typed by users are escaped and always print as the characters typed."""
    return Paragraph(escape(_CONTROL.sub(" ", "" if text is None else str(text))), style)


def styles() -> dict[str, ParagraphStyle]:
    font = cjk_font()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=16, leading=22, alignment=1, spaceAfter=6
        ),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=16, alignment=1),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=12),
        "cell_right": ParagraphStyle(
            "cell_right", parent=base, fontSize=9, leading=12, alignment=2
        ),
    }


def grid_table(rows: list[list[object]], col_widths: list[float], header_rows: int = 1) -> Table:
    """A bordered table whose header rows repeat on every page."""
    table = Table(rows, colWidths=col_widths, repeatRows=header_rows)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), cjk_font(), 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def signature_block(
    day: date | None = None, labels: tuple[str, ...] = ("制表", "审核", "负责人")
) -> Table:
    """制表/审核/负责人 lines with a date."""
    s = styles()
    cells = [paragraph(f"{label}：________________", s["base"]) for label in labels]
    when = f"日期：{day:%Y年%m月%d日}" if day else "日期：______年____月____日"
    cells.append(paragraph(when, s["base"]))
    table = Table([cells], colWidths=[45 * mm] * len(cells))
    table.setStyle(TableStyle([("TOPPADDING", (0, 0), (-1, -1), 14)]))
    return table
