"""The county's monthly workload report as Excel, from the table ``fdoctor.assessments.dashboards``
gathers (no database here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WorkloadTable:
    title: str
    period: str
    types: list[tuple[str, str]]  # (type, label)
    rows: list[tuple[str, str, list[int], int]]  # institution, team, counts per type, total
    totals: list[int]
    total: int


def build_workload_xlsx(table: WorkloadTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "工作量"
    ws.append([table.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["机构", "团队", *[label for _, label in table.types], "合计"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for institution, team, counts, total in table.rows:
        ws.append([institution, team, *counts, total])
    ws.append(["合计", "", *table.totals, table.total])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    from fdoctor.core.spreadsheet import workbook_bytes

    return workbook_bytes(wb)  # text cells neutralised: no formula from user input
