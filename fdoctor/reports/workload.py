"""The county's monthly workload report as Excel, from the table ``fdoctor.assessments.dashboards``
gathers (no database here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class WorkloadTable:
    title: str
    period: str
    types: list[tuple[str, str]]  # (type, label)
    rows: list[tuple[str, str, list[int], int]]  # institution, team, counts per type, total
    totals: list[int]
    total: int
    # Workload points per row (Σ count × the county's points per type) and their total, when a
    # point table is given; ``point_table`` names it.
    points: list[Decimal] | None = None
    total_points: Decimal | None = None
    point_table: str = ""


def build_workload_xlsx(table: WorkloadTable) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "工作量"
    ws.append([table.title])
    ws["A1"].font = Font(bold=True, size=14)
    points = table.points
    ws.append(
        ["机构", "团队", *[label for _, label in table.types], "合计"]
        + (["工作量点数"] if points is not None else [])
    )
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for n, (institution, team, counts, total) in enumerate(table.rows):
        ws.append([institution, team, *counts, total] + ([points[n]] if points is not None else []))
    ws.append(
        ["合计", "", *table.totals, table.total]
        + ([table.total_points] if points is not None else [])
    )
    if points is not None:
        ws.append([f"工作量点数按 {table.point_table} 计算（有效服务记录数 × 该类点数）"])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    from fdoctor.core.spreadsheet import workbook_bytes

    return workbook_bytes(wb)  # text cells neutralised: no formula from user input
