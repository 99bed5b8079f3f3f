"""The settlement sheet (结算表) and the distribution sheets as PDF and Excel.

``build_settlement_pdf(data)`` / ``build_settlement_xlsx(data)`` take a ``Sheet`` (built by
``fdoctor.settlement.sheet.sheet_data``) and return bytes; the county → institution,
institution → team and team → member sheets use the same layout through
``build_distribution_pdf`` / ``build_distribution_xlsx``. Amounts are carried as integer fen and
turned into yuan only here: text with two decimals in the PDF, exact numbers (not text) with
the format ``#,##0.00`` in Excel. Every export shows the sheet's SHA-256.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, TableStyle

from assessments.money import fen_to_decimal_yuan, yuan
from fdoctor.reports.pdf import cjk_font, grid_table, paragraph, signature_block, styles

# Column kinds: how a value is printed and stored.
TEXT, INT, FEN, DECIMAL, SHARE = "text", "int", "fen", "decimal", "share"
NUMBER_FORMATS = {INT: "#,##0", FEN: "#,##0.00", SHARE: "0.00000000", DECIMAL: "#,##0.00##"}
# The rule of scores on every settlement sheet (``assessments.cascade``: exact means).
SCORE_RULE_NOTE = (
    "得分口径：各级考核以已公示的总分（保留两位小数）为准；团队得分为本年度已公示季度考核得分的平均，"
    "该平均值及各级权重均按精确值计算、不先四舍五入，表中得分仅在显示时保留两位小数。"
)


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT
    width_mm: float = 25


@dataclass
class Group:
    """One table: a pool, county, institution or team, with its rows and subtotal row."""

    title: str
    rows: list[list[Any]]
    total: list[Any] | None = None
    note: str = ""


@dataclass
class Annex:
    """A table after the sheet's own (e.g. corrections after lock), with its own columns."""

    title: str
    columns: list[Column]
    groups: list[Group]
    notes: list[str] = field(default_factory=list)
    sheet_name: str = "附表"  # the Excel worksheet's name (at most 31 characters)


@dataclass
class Sheet:
    title: str
    subtitle: str
    columns: list[Column]
    groups: list[Group]
    sha256: str
    status_label: str
    grand_total: list[Any] | None = None
    day: date | None = None
    notes: list[str] = field(default_factory=list)
    input_columns: list[Column] = field(default_factory=list)
    input_rows: list[list[Any]] = field(default_factory=list)
    # Locked sheets: the audit chain's latest checkpoint (``审计链锚点: #<id> <16 hex>``), a copy
    # of the trail's end outside the database.
    audit_anchor: str = ""
    annexes: list[Annex] = field(default_factory=list)


# --------------------------------------------------------------------------- PDF


def _cell_text(value: Any, kind: str) -> str:
    if value is None or value == "":
        return ""
    if kind == FEN:
        return yuan(int(value))
    if kind == INT:
        return f"{int(value):,}"
    if kind == DECIMAL:
        return f"{Decimal(value):,}"
    return str(value)


def _pdf_rows(columns: list[Column], rows: list[list[Any]]) -> list[list[Any]]:
    s = styles()
    out = []
    for row in rows:
        cells: list[Any] = []
        for value, column in zip(row, columns, strict=True):
            text = _cell_text(value, column.kind)
            if column.kind == TEXT and len(text) > 8:
                cells.append(paragraph(text, s["cell"]))  # wraps long names
            else:
                cells.append(text)
        out.append(cells)
    return out


def _table(columns: list[Column], body: list[list[Any]], totals: list[list[Any]]) -> Any:
    header = [[c.label for c in columns]]
    rows = header + _pdf_rows(columns, body) + _pdf_rows(columns, totals)
    table = grid_table(rows, [c.width_mm * mm for c in columns])
    commands: list[tuple[Any, ...]] = []
    for i, column in enumerate(columns):
        if column.kind != TEXT:
            commands.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    if totals:
        start = len(rows) - len(totals)
        commands.append(("BACKGROUND", (0, start), (-1, -1), colors.HexColor("#f3f3f3")))
    commands.append(("ALIGN", (0, 0), (-1, 0), "CENTER"))
    table.setStyle(TableStyle(commands))
    return table


def _footer(sheet: Sheet) -> Any:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(cjk_font(), 7)
        canvas.drawString(
            12 * mm, 7 * mm, f"{sheet.title} · {sheet.status_label} · SHA-256 {sheet.sha256}"
        )
        canvas.drawRightString(doc.pagesize[0] - 12 * mm, 7 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    return draw


def _build_pdf(sheet: Sheet) -> bytes:
    s = styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=sheet.title,
        author="fdoctor",
    )
    story: list[Any] = [
        paragraph(sheet.title, s["title"]),
        paragraph(f"{sheet.subtitle}　状态：{sheet.status_label}", s["subtitle"]),
        paragraph(f"SHA-256：{sheet.sha256}", s["small"]),
        *([paragraph(sheet.audit_anchor, s["small"])] if sheet.audit_anchor else []),
        Spacer(1, 4 * mm),
    ]
    for group in sheet.groups:
        story.append(paragraph(group.title, s["base"]))
        if group.note:
            story.append(paragraph(group.note, s["small"]))
        story.append(Spacer(1, 1.5 * mm))
        story.append(_table(sheet.columns, group.rows, [group.total] if group.total else []))
        story.append(Spacer(1, 5 * mm))
    if sheet.grand_total is not None:
        story.append(paragraph("合计", s["base"]))
        story.append(Spacer(1, 1.5 * mm))
        story.append(_table(sheet.columns, [], [sheet.grand_total]))
        story.append(Spacer(1, 4 * mm))
    for note in sheet.notes:
        story.append(paragraph(note, s["small"]))
    for annex in sheet.annexes:
        story += _annex_story(annex)
    story.append(Spacer(1, 6 * mm))
    story.append(signature_block(sheet.day))
    footer = _footer(sheet)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _annex_story(annex: Annex) -> list[Any]:
    s = styles()
    story: list[Any] = [Spacer(1, 5 * mm), paragraph(annex.title, s["base"])]
    story += [paragraph(note, s["small"]) for note in annex.notes]
    for group in annex.groups:
        story.append(Spacer(1, 2 * mm))
        story.append(paragraph(group.title, s["small"]))
        if group.note:
            story.append(paragraph(group.note, s["small"]))
        if group.rows:
            story.append(_table(annex.columns, group.rows, [group.total] if group.total else []))
    return story


def build_settlement_pdf(data: Sheet) -> bytes:
    """The settlement (or pre-allocation) sheet: a table per pool, the total, a signature block."""
    return _build_pdf(data)


def build_distribution_pdf(data: Sheet) -> bytes:
    """A distribution sheet (county → institutions, institution → teams, team → members)."""
    return _build_pdf(data)


# --------------------------------------------------------------------------- Excel

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E8EEF7")
_TOTAL_FILL = PatternFill("solid", fgColor="F3F3F3")
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _excel_value(value: Any, kind: str) -> Any:
    """Numbers stay numbers: fen → exact yuan Decimal, counts → int, scores → Decimal."""
    if value is None or value == "":
        return None
    if kind == FEN:
        return fen_to_decimal_yuan(int(value))
    if kind == INT:
        return int(value)
    if kind in (DECIMAL, SHARE):
        return Decimal(value)
    return str(value)


def _write_row(
    ws: Any, row: int, values: list[Any], columns: list[Column], total: bool = False
) -> None:
    for i, (value, column) in enumerate(zip(values, columns, strict=True), start=1):
        cell = ws.cell(row=row, column=i, value=_excel_value(value, column.kind))
        cell.border = _BORDER
        if column.kind in NUMBER_FORMATS:
            cell.number_format = NUMBER_FORMATS[column.kind]
        if total:
            cell.font = _BOLD
            cell.fill = _TOTAL_FILL


def _write_header(ws: Any, row: int, columns: list[Column]) -> None:
    for i, column in enumerate(columns, start=1):
        cell = ws.cell(row=row, column=i, value=column.label)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = max(10, column.width_mm * 0.55)


def _build_xlsx(sheet: Sheet, main_title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = main_title
    width = len(sheet.columns)
    ws.cell(row=1, column=1, value=sheet.title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=2, column=1, value=f"{sheet.subtitle}　状态：{sheet.status_label}")
    ws.cell(row=3, column=1, value=f"SHA-256：{sheet.sha256}")
    if sheet.audit_anchor:
        ws.cell(row=4, column=1, value=sheet.audit_anchor)
    row = 5
    _write_header(ws, row, sheet.columns)
    ws.freeze_panes = ws.cell(row=row + 1, column=1)
    row += 1
    for group in sheet.groups:
        for values in group.rows:
            _write_row(ws, row, values, sheet.columns)
            row += 1
        if group.total is not None:
            _write_row(ws, row, group.total, sheet.columns, total=True)
            row += 1
    if sheet.grand_total is not None:
        _write_row(ws, row, sheet.grand_total, sheet.columns, total=True)
        row += 1
    row += 1
    for note in sheet.notes:
        ws.cell(row=row, column=1, value=note)
        row += 1
    row += 1
    day = f"{sheet.day:%Y年%m月%d日}" if sheet.day else "____年__月__日"
    for i, label in enumerate(("制表：", "审核：", "负责人：", f"日期：{day}")):
        ws.cell(row=row, column=1 + i * 2, value=label)

    inputs = wb.create_sheet("输入数据")
    inputs.cell(row=1, column=1, value=f"{sheet.title} — 输入数据").font = Font(bold=True, size=12)
    inputs.cell(row=2, column=1, value=f"SHA-256：{sheet.sha256}")
    if sheet.input_columns:
        _write_header(inputs, 4, sheet.input_columns)
        for offset, values in enumerate(sheet.input_rows, start=5):
            _write_row(inputs, offset, values, sheet.input_columns)
    for annex in sheet.annexes:
        _write_annex(wb.create_sheet(annex.sheet_name), annex)
    from fdoctor.core.spreadsheet import workbook_bytes

    return workbook_bytes(wb)  # text cells neutralised: no formula from user input


def _write_annex(ws: Any, annex: Annex) -> None:
    """An annex on its own worksheet: title, notes, then each group's title, reason and rows."""
    ws.cell(row=1, column=1, value=annex.title).font = Font(bold=True, size=12)
    row = 2
    for note in annex.notes:
        ws.cell(row=row, column=1, value=note)
        row += 1
    for group in annex.groups:
        row += 1
        ws.cell(row=row, column=1, value=group.title).font = _BOLD
        row += 1
        if group.note:
            ws.cell(row=row, column=1, value=group.note)
            row += 1
        _write_header(ws, row, annex.columns)
        row += 1
        for values in group.rows:
            _write_row(ws, row, values, annex.columns)
            row += 1


def build_settlement_xlsx(data: Sheet) -> bytes:
    """The settlement sheet as Excel: amounts in yuan as numbers, totals, inputs on sheet 2."""
    return _build_xlsx(data, "结算表")


def build_distribution_xlsx(data: Sheet) -> bytes:
    return _build_xlsx(data, "分配表")
