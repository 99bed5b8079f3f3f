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


def build_assessment_sheet_xlsx(data: SheetData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "考核评分表"
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
    header_row = ws.max_row + 1
    ws.append(["编号", "指标", "维度", "满分", "指标值", "目标", "得分", "计分依据 / 理由"])
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
                None if row.points is None else float(row.points),
                row.basis,
            ]
        )
        ws.cell(ws.max_row, 8).alignment = Alignment(wrap_text=True)
    for _code, name, pts, mx in data.dimensions:
        ws.append(["", f"{name}小计", "", float(mx), "", "", float(pts), ""])
    ws.append(
        [
            "",
            "指标合计",
            "",
            100.0,
            "",
            "",
            None if data.item_sum is None else float(data.item_sum),
            "",
        ]
    )
    if data.reported is not None or data.spot is not None:
        ws.append(
            [
                "",
                "上报得分",
                "",
                "",
                "",
                "",
                None if data.reported is None else float(data.reported),
                "",
            ]
        )
        ws.append(
            [
                "",
                "市级抽查得分",
                "",
                "",
                "",
                "",
                None if data.spot is None else float(data.spot),
                "",
            ]
        )
    ws.append(
        [
            "",
            "总分",
            "",
            "",
            "",
            "",
            None if data.total is None else float(data.total),
            data.flag_reason or "",
        ]
    )
    for column, width in zip("ABCDEFGH", (8, 22, 10, 8, 22, 10, 8, 70), strict=True):
        ws.column_dimensions[column].width = width
    for row in ws.iter_rows(min_row=header_row + 1, min_col=4, max_col=7):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "0.00"
    from fdoctor.core.spreadsheet import workbook_bytes

    return workbook_bytes(wb)  # text cells neutralised: no formula from user input
