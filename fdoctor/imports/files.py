"""Files the import pages hand out: blank templates (.xlsx and .csv) and the problem report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from fdoctor.core.spreadsheet import safe_row, workbook_bytes
from fdoctor.imports.importers import Importer

REPORT_HEADERS = ["行号", "列名", "问题"]
_HEADER_FILL = PatternFill("solid", fgColor="E8EEF7")


def template_csv(importer: type[Importer]) -> bytes:
    """The header row in UTF-8 with a BOM, so Excel opens the Chinese correctly."""
    out = io.StringIO(newline="")
    csv.writer(out).writerow(safe_row(c.name for c in importer.columns))
    return out.getvalue().encode("utf-8-sig")


def build_template_xlsx(importer: type[Importer]) -> bytes:
    """Sheet 1: the headers (required ones bold), ID/code columns formatted as text so Excel keeps
    every digit; sheet 2 (说明): what each column means."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = importer.label[:31]
    for i, column in enumerate(importer.columns, start=1):
        cell = sheet.cell(row=1, column=i, value=column.name)
        cell.font = Font(bold=column.required)
        cell.fill = _HEADER_FILL
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = max(12, len(column.name) * 2 + 6)
        if column.text:
            for row in range(2, 1002):
                sheet.cell(row=row, column=i).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    notes.append(["列名", "是否必填", "说明"])
    for column in importer.columns:
        notes.append([column.name, "必填" if column.required else "选填", column.help])
    notes.append([])
    notes.append(["", "", "第一个工作表的第1行是列名，请从第2行开始填写；一行一条记录。"])
    notes.append(["", "", "任何一行有错误时整份文件都不会导入，系统会列出每个问题所在的行和列。"])
    notes.append(["", "", "同一文件重复导入不会产生重复数据：已存在的记录按编号更新。"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 90
    for row in notes.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True)
    return workbook_bytes(book)


def iter_problem_rows(problems: Iterable[tuple[int, str, str]]) -> Iterator[list[str]]:
    """The report as table rows: 行号 (or 文件 for the file as a whole), 列名, 问题."""
    for row, column, message in problems:
        yield ["文件" if row == 0 else str(row), column or "—", message]


def report_csv(problems: Iterable[tuple[int, str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(REPORT_HEADERS)
    writer.writerows(safe_row(row) for row in iter_problem_rows(problems))
    return out.getvalue().encode("utf-8-sig")


def build_report_xlsx(
    problems: Iterable[tuple[int, str, str]], title: str = "导入问题报告"
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(REPORT_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for row in iter_problem_rows(problems):
        sheet.append(row)
    sheet.column_dimensions["A"].width = 8
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions["C"].width = 90
    sheet.freeze_panes = "A2"
    return workbook_bytes(book)
