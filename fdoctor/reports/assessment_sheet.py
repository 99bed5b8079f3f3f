"""The assessment sheet (考核评分表) of one assessment, as PDF and Excel.

``fdoctor.assessments.sheet.sheet_data(assessment)`` reads what the sheet shows;
``build_assessment_sheet_pdf`` and ``build_assessment_sheet_xlsx`` turn it into bytes without
touching the database.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from assessments.index import DIMENSION_NAMES
from assessments.tiers import SPOT_CHECK_LEVEL

DIMENSIONS = DIMENSION_NAMES
SHEET_TITLES = {
    "L1": "月度自查",
    "L2": "二级考核",
    "L3": "三级考核",
    "L4": "市级年度考核",
    SPOT_CHECK_LEVEL: "市级抽查",
}


@dataclass(frozen=True)
class SheetRow:
    code: str
    name: str
    dimension: str
    max_points: Decimal
    value: str
    target: str
    points: Decimal | None
    basis: str  # how the points came about: the arithmetic, or the assessor's reason


@dataclass(frozen=True)
class SheetData:
    title: str
    level_label: str
    period_label: str
    unit_name: str
    assessor_name: str
    index_label: str
    status_label: str
    revision: int
    revision_reason: str | None
    rows: tuple[SheetRow, ...]
    dimensions: tuple[tuple[str, str, Decimal, Decimal], ...]  # code, name, points, max
    item_sum: Decimal | None
    total: Decimal | None
    reported: Decimal | None = None
    spot: Decimal | None = None
    flag_reason: str | None = None
    due_on: date | None = None
    published_on: date | None = None
    day: date | None = None


def _num(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(value):.2f}"
    return text.rstrip("0").rstrip(".")


def build_assessment_sheet_pdf(data: SheetData) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer

    from fdoctor.reports.pdf import grid_table, paragraph, signature_block, styles

    s = styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=data.title,
    )
    story: list[object] = [
        paragraph(data.title, s["title"]),
        paragraph(
            f"{data.level_label} · {data.period_label} · 被考核单位：{data.unit_name} · 考核单位：{data.assessor_name}",
            s["subtitle"],
        ),
        paragraph(
            f"考核指标：{data.index_label} · 状态：{data.status_label} · 第 {data.revision} 版"
            + (f" · 修订理由：{data.revision_reason}" if data.revision_reason else ""),
            s["small"],
        ),
        Spacer(1, 4 * mm),
    ]
    header = ["编号", "指标", "满分", "指标值", "目标", "得分", "计分依据 / 理由"]
    rows: list[list[object]] = [[paragraph(h, s["cell"]) for h in header]]
    for row in data.rows:
        rows.append(
            [
                row.code,
                paragraph(row.name, s["cell"]),
                _num(row.max_points),
                paragraph(row.value, s["small"]),
                row.target,
                _num(row.points),
                paragraph(row.basis, s["small"]),
            ]
        )
    subtotals = "；".join(
        f"{name} {_num(pts)} / {_num(mx)}" for _code, name, pts, mx in data.dimensions
    )
    rows.append(
        [
            "",
            paragraph("指标合计", s["cell"]),
            "100",
            "",
            "",
            _num(data.item_sum),
            paragraph(subtotals, s["small"]),
        ]
    )
    widths = [10 * mm, 27 * mm, 10 * mm, 29 * mm, 13 * mm, 13 * mm, 84 * mm]
    story.append(grid_table(rows, widths))
    story.append(Spacer(1, 4 * mm))
    if data.reported is not None or data.spot is not None:
        story.append(
            paragraph(
                f"上报得分（年终三级考核加权平均）：{_num(data.reported)} 分；市级抽查得分：{_num(data.spot)} 分",
                s["base"],
            )
        )
    if data.flag_reason:
        story.append(paragraph(f"标记：{data.flag_reason}", s["base"]))
    story.append(paragraph(f"总分：{_num(data.total)} 分", s["title"]))
    story.append(Spacer(1, 6 * mm))
    story.append(signature_block(data.day, labels=("考核人", "审核人", "负责人")))
    doc.build(story)
    return buffer.getvalue()


XLSX_HEADER = ("编号", "指标", "维度", "满分", "指标值", "目标", "得分", "计分依据 / 理由")
XLSX_WIDTHS = (8, 22, 10, 8, 22, 10, 8, 70)  # columns A to H


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _summary_line(
    label: str, points: Decimal | None, max_points: Decimal | None = None, note: str = ""
) -> list[object]:
    """A line below the indicators: a label, the points in the score column, perhaps a note."""
    return [
        "",
        label,
        "",
        "" if max_points is None else float(max_points),
        "",
        "",
        _float(points),
        note,
    ]


def build_assessment_sheet_xlsx(data: SheetData) -> bytes:
    from openpyxl import Workbook

    from fdoctor.core.spreadsheet import workbook_bytes

    wb = Workbook()
    ws = wb.active
    ws.title = "考核评分表"
    _xlsx_heading(ws, data)
    header_row = _xlsx_indicators(ws, data)
    _xlsx_summary(ws, data)
    for column, width in zip("ABCDEFGH", XLSX_WIDTHS, strict=True):
        ws.column_dimensions[column].width = width
    for row in ws.iter_rows(min_row=header_row + 1, min_col=4, max_col=7):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "0.00"
    return workbook_bytes(wb)  # text cells neutralised: no formula from user input


def _xlsx_heading(ws: Any, data: SheetData) -> None:
    """The title, the unit and the assessor, the index and the sheet's state, a blank line."""
    from openpyxl.styles import Font

    ws.append([data.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(
        [
            f"{data.level_label} · {data.period_label}",
            f"被考核单位：{data.unit_name}",
            f"考核单位：{data.assessor_name}",
        ]
    )
    ws.append(
        [
            f"考核指标：{data.index_label}",
            f"状态：{data.status_label}",
            f"第 {data.revision} 版",
            data.revision_reason or "",
        ]
    )
    ws.append([])


def _xlsx_indicators(ws: Any, data: SheetData) -> int:
    """The header and one line per indicator; returns the header's row number."""
    from openpyxl.styles import Alignment, Font

    header_row = ws.max_row + 1
    ws.append(XLSX_HEADER)
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
    for row in data.rows:
        ws.append(
            [
                row.code,
                row.name,
                DIMENSIONS.get(row.dimension, row.dimension),
                float(row.max_points),
                row.value,
                row.target,
                _float(row.points),
                row.basis,
            ]
        )
        ws.cell(ws.max_row, 8).alignment = Alignment(wrap_text=True)
    return header_row


def _xlsx_summary(ws: Any, data: SheetData) -> None:
    """The dimensions' subtotals, the indicators' sum, the reported and spot points, the total."""
    for _code, name, pts, mx in data.dimensions:
        ws.append(_summary_line(f"{name}小计", pts, mx))
    ws.append(_summary_line("指标合计", data.item_sum, Decimal(100)))
    if data.reported is not None or data.spot is not None:
        ws.append(_summary_line("上报得分", data.reported))
        ws.append(_summary_line("市级抽查得分", data.spot))
    ws.append(_summary_line("总分", data.total, note=data.flag_reason or ""))
