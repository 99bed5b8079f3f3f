"""Reading an uploaded table: .xlsx (openpyxl, read-only) or .csv in UTF-8 (with or without BOM)
or GBK, into rows keyed by the Chinese column names; and parsing the cell values.

Row numbers are the spreadsheet's own (the header is row 1), so the report points at the line
the user sees in Excel.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fdoctor.core.errors import UserFacingError
from fdoctor.core.input_guard import has_bad_text

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_COLUMNS = 100  # the widest template has a dozen columns
# Rows a sheet may span, blank ones included (a data row every other line at the limit).
MAX_SHEET_ROWS = 2 * MAX_ROWS + 1
MAX_XLSX_EXPANDED_BYTES = 200 * 1024 * 1024


class ImportFileError(UserFacingError):
    """The file as a whole cannot be read; the message is for the user, in Chinese."""


@dataclass
class Row:
    number: int  # spreadsheet row number (header = 1)
    values: dict[str, Any]

    def raw(self, column: str) -> Any:
        return self.values.get(column)

    def text(self, column: str) -> str:
        return cell_text(self.values.get(column))


@dataclass
class Table:
    headers: list[str]
    rows: list[Row] = field(default_factory=list)
    encoding: str | None = None  # CSV only


def normalise_header(name: Any) -> str:
    """Headers may carry a required-mark ``*`` and stray spaces (full-width too)."""
    text = cell_text(name)
    return re.sub(r"[\s\u3000*＊]", "", text)


def cell_text(value: Any) -> str:
    """A cell as trimmed text; whole floats lose their ``.0`` (Excel numbers)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\u3000", " ").strip()


def decode_csv(content: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK)."""
    try:
        return content.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "GBK"
    except UnicodeDecodeError:
        raise ImportFileError(
            "无法识别文件编码，请将CSV文件另存为UTF-8或GBK编码后重新上传"
        ) from None


def _table(header: list[Any], body: list[tuple[int, list[Any]]]) -> Table:
    headers = [normalise_header(h) for h in header]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise ImportFileError("文件第1行应为列名（表头），但第1行是空的")
    if len(headers) > MAX_COLUMNS:
        raise _too_large(f"表头有{len(headers)}列")
    seen: set[str] = set()
    for name in headers:
        if name and name in seen:
            raise ImportFileError(f"列名“{name}”在表头中出现了两次")
        seen.add(name)
    if any(has_bad_text(name) for name in headers):
        raise ImportFileError("表头含有无效字符（空字符），请检查文件是否损坏")
    table = Table(headers=headers)
    for number, cells in body:
        if all(cell_text(c) == "" for c in cells):
            continue  # blank lines are not rows
        if any(isinstance(c, str) and has_bad_text(c) for c in cells):
            # SQLite would store a NUL and PostgreSQL refuse it: refused here, alike.
            raise ImportFileError(f"第{number}行含有无效字符（空字符），请检查文件是否损坏")
        values = {
            name: (cells[i] if i < len(cells) else None) for i, name in enumerate(headers) if name
        }
        table.rows.append(Row(number=number, values=values))
        if len(table.rows) > MAX_ROWS:
            raise ImportFileError(f"一次最多导入{MAX_ROWS}行，请拆分文件后分批导入")
    return table


def read_csv(content: bytes) -> Table:
    text, encoding = decode_csv(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise ImportFileError(f"CSV格式有误：{exc}") from None
    if not lines:
        raise ImportFileError("文件是空的")
    body = [(i + 2, list(line)) for i, line in enumerate(lines[1:])]
    table = _table(list(lines[0]), body)
    table.encoding = encoding
    return table


def _check_archive(content: bytes) -> None:
    """A few KB of zip can expand to gigabytes: refuse before anything is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(
            "无法读取该Excel文件，请确认是 .xlsx 格式（不支持旧版 .xls）"
        ) from None
    if expanded > MAX_XLSX_EXPANDED_BYTES:
        raise ImportFileError(
            f"Excel文件解压后超过{MAX_XLSX_EXPANDED_BYTES // (1024 * 1024)}MB，"
            "请删除多余的工作表和格式、只保留数据后重新上传"
        )


def _too_large(what: str) -> ImportFileError:
    return ImportFileError(
        f"{what}，超过导入上限（{MAX_ROWS}行数据、{MAX_COLUMNS}列），"
        "请删除表格中多余的空行空列（或只复制数据区域到新文件）后重新上传"
    )


def read_xlsx(content: bytes) -> Table:
    """Stream the first sheet with row and column limits: never trust its declared size.

    A sheet may declare ``A1:XFD1048576`` (or skip a million row numbers) in a few KB; openpyxl
    would pad every row to the declared width and fill every skipped row, so the declared size is
    checked first, then rows are read one at a time, blank rows dropped as they come, at most
    ``MAX_COLUMNS`` cells wide.
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    _check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ImportFileError(
            "无法读取该Excel文件，请确认是 .xlsx 格式（不支持旧版 .xls）"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
        if declared_rows > MAX_SHEET_ROWS or declared_columns > MAX_COLUMNS:
            last = f"{get_column_letter(max(declared_columns, 1))}{declared_rows}"
            raise _too_large(
                f"文件声明的表格范围为 A1:{last}（{declared_rows}行、{declared_columns}列）"
            )
        sheet.reset_dimensions()  # read what is there, not what is declared
        # The header row at its real width (one row), so that a column name far to the right is
        # still seen; data cells beyond MAX_COLUMNS have no header and would be ignored anyway.
        header = next(sheet.iter_rows(max_row=1, values_only=True), None)
        if header is None:
            raise ImportFileError("文件是空的")
        if any(cell_text(c) != "" for c in header[MAX_COLUMNS:]):
            raise _too_large(f"表头在第{MAX_COLUMNS}列之后还有内容")
        body: list[tuple[int, list[Any]]] = []
        rows = sheet.iter_rows(min_row=2, max_col=MAX_COLUMNS, values_only=True)
        for number, cells in enumerate(rows, start=2):
            if number > MAX_SHEET_ROWS:
                raise _too_large(f"表格超过{MAX_SHEET_ROWS}行")
            if all(cell_text(c) == "" for c in cells):
                continue  # blank lines are not rows (and are not kept)
            body.append((number, list(cells)))
            if len(body) > MAX_ROWS:
                raise ImportFileError(f"一次最多导入{MAX_ROWS}行，请拆分文件后分批导入")
    finally:
        workbook.close()
    return _table(list(header[:MAX_COLUMNS]), body)


def read_table(filename: str, content: bytes) -> Table:
    """Read an upload by its extension; raise :class:`ImportFileError` with a Chinese message."""
    name = (filename or "").lower()
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            f"文件超过{MAX_UPLOAD_BYTES // (1024 * 1024)}MB上限，请拆分后分批导入"
        )
    if not content:
        raise ImportFileError("文件是空的")
    if name.endswith(".xlsx"):
        return read_xlsx(content)
    if name.endswith(".csv"):
        return read_csv(content)
    raise ImportFileError("只支持 .xlsx 或 .csv 文件")


# --- cell values ----------------------------------------------------------------------------

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "有"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "无", ""}


def parse_date(value: Any) -> date | None:
    """A date cell or text in a common Chinese format; None if empty; ValueError (Chinese)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        return None
    text = text.split(" ")[0].split("T")[0]
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                break
    raise ValueError(f"“{cell_text(value)}”不是有效日期，请写成 2026-01-31 的格式")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"“{cell_text(value)}”应填“是”或“否”")


def parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        raise ValueError("应为整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"“{value}”不是整数")
    text = cell_text(value).replace(",", "")
    if not text:
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise ValueError(f"“{cell_text(value)}”不是整数")


def split_list(value: Any) -> list[str]:
    """Several values in one cell: separated by 、，,；; | or whitespace."""
    return [part for part in re.split(r"[、，,；;|\s]+", cell_text(value)) if part]
