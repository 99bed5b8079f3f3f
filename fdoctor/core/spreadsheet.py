"""Cells that a spreadsheet program must show as text, never run as a formula.

A value such as ``=HYPERLINK("http://…","点击")`` or ``@SUM(…)`` typed into a reason, a name or an
imported file would become a live formula when an export or an import report is opened in Excel
or WPS (CSV/formula injection). Every text value starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return (and their full-width forms) gets a leading apostrophe; numbers, dates and other
non-text values are left alone, so figures stay numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: a text that could start a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise(v) for v in row]


def neutralise_workbook(book: Any) -> None:
    """Neutralise every text cell of an openpyxl workbook (openpyxl turns ``"=…"`` into a formula)."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                    cell.value = "'" + value


def workbook_bytes(book: Any) -> bytes:
    """The workbook as .xlsx bytes, every text cell neutralised first."""
    neutralise_workbook(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
