"""The year's settlement configuration as the spreadsheet the city keeps (结算配置表).

Layout (first sheet, header in row 1, one setting per row; the 说明 sheet repeats it):

| 年度 | 类别 | 编码 | 名称 | 数值 | 站点部分 |

* 类别 ``比例参数``: 名称 is 预拨比例（%）, 部门基金提取比例（%） or 工作量达标系数k上限; 数值 the value.
* 类别 ``结算池资金``: 编码 the pool's code (名称 its name, for the reader); 数值 the fund in yuan.
* 类别 ``拆分比例``: 编码 the institution's code, or empty with 名称 ``全市默认``; 数值 the centre
  part and 站点部分 the stations part (e.g. 60 and 40).
* 类别 ``岗位系数``: 名称 the post; 数值 the coefficient y.
* 类别 ``标准工作量``: 名称 the post, or ``全部岗位（默认）``; 数值 the services per member and year.

Every row must carry the year being imported. An empty 数值 leaves the setting unchanged. The
template is the current configuration of the year, so it can be downloaded, edited and imported
back. Reading goes through ``fdoctor.imports.reader`` (bounded), values through ``yearly.save_year``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from fdoctor.core.spreadsheet import workbook_bytes
from fdoctor.imports.reader import ImportFileError, Row, read_table
from fdoctor.settlement import parameters
from fdoctor.settlement.yearly import (
    PARAMETER_FIELDS,
    Entry,
    FieldError,
    YearConfigInvalid,
    current_values,
)

HEADERS = ("年度", "类别", "编码", "名称", "数值", "站点部分")
PARAMETER_NAMES = {
    "preallocation_pct": "预拨比例（%）",
    "reserve_pct": "部门基金提取比例（%）",
    "attainment_cap": "工作量达标系数k上限",
}
DEFAULT_SPLIT = "全市默认"
DEFAULT_STANDARD = "全部岗位（默认）"
KIND_NAMES = {
    "parameters": "比例参数",
    "fund": "结算池资金",
    "split": "拆分比例",
    "post": "岗位系数",
    "standard": "标准工作量",
}
NOTES = (
    ("年度", "每一行都填本次导入的年度，与页面上的年度不同时整份文件不导入。"),
    ("类别", "比例参数、结算池资金、拆分比例、岗位系数、标准工作量 之一。"),
    ("编码", "结算池、医疗机构的编码（与系统一致）；全市默认拆分比例、岗位、参数留空。"),
    ("名称", "比例参数的名称、岗位名称，或“全市默认”“全部岗位（默认）”；结算池和机构的名称仅供阅读。"),
    ("数值", "比例参数、资金（元，最多 2 位小数）、拆分比例的中心部分、岗位系数 y、标准工作量（点/年）。留空表示不修改。"),
    ("站点部分", "仅拆分比例：站点（村卫生室）部分，例如中心 60、站点 40。"),
)  # fmt: skip
_HEADER_FILL = PatternFill("solid", fgColor="E8EEF7")


# --------------------------------------------------------------------------- the template


def template_rows(year: int) -> list[list[Any]]:
    """The year's configuration as the template's rows (numbers as numbers)."""
    values = current_values(year)

    def number(name: str) -> Any:
        text = values.get(name, "")
        if not text:
            return None
        number = float(text.replace(",", ""))
        return int(number) if number.is_integer() else number

    rows: list[list[Any]] = [
        [year, KIND_NAMES["parameters"], None, PARAMETER_NAMES[f], number(f), None]
        for f in PARAMETER_FIELDS
    ]
    rows += [
        [year, KIND_NAMES["fund"], pool.code, pool.name, number(f"fund_{pool.id}"), None]
        for pool in parameters.pools()
    ]
    rows.append([year, KIND_NAMES["split"], None, DEFAULT_SPLIT,
                 number("split_centre_default"), number("split_stations_default")])  # fmt: skip
    rows += [
        [year, KIND_NAMES["split"], inst.code, inst.name,
         number(f"split_centre_{inst.id}"), number(f"split_stations_{inst.id}")]
        for inst in parameters.institutions()
    ]  # fmt: skip
    coefficients = {p.post: p.coefficient for p in parameters.post_coefficients()}
    for post in sorted(set(coefficients) | set(parameters.known_posts())):
        value = coefficients.get(post)
        rows.append([year, KIND_NAMES["post"], None, post,
                     None if value is None else float(value), None])  # fmt: skip
    standards = {s.post: float(s.standard_points) for s in parameters.workload_standards(year)}
    rows.append([year, KIND_NAMES["standard"], None, DEFAULT_STANDARD, standards.get(""), None])
    for post in sorted((set(standards) | set(parameters.known_posts())) - {""}):
        rows.append([year, KIND_NAMES["standard"], None, post, standards.get(post), None])
    return rows


def build_template(year: int) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{year}年度结算配置"
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    for row in template_rows(year):
        sheet.append(row)
    for column in "CD":  # codes and names stay text (a code such as 0101 keeps its zero)
        for cell in sheet[column][1:]:
            cell.number_format = "@"
    for letter, width in zip("ABCDEF", (8, 14, 16, 30, 16, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    notes.append(["列名", "说明"])
    for name, text in NOTES:
        notes.append([name, text])
    notes.append([])
    notes.append(["", "第一个工作表的第1行是列名，一行一项设置；可以删去不修改的行。"])
    notes.append(["", "任何一行有错误时整份文件都不会导入，系统会列出每个问题所在的行。"])
    notes.append(["", "岗位系数和拆分比例适用于所有年度；资金、比例参数和标准工作量按年度保存。"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 100
    for line in notes.iter_rows(min_row=2):
        line[1].alignment = Alignment(wrap_text=True)
    return workbook_bytes(book)


# --------------------------------------------------------------------------- reading it back


@dataclass(frozen=True)
class _Keyed:
    entry: Entry
    rows: tuple[int, ...]


def _where(row: Row) -> str:
    return f"第{row.number}行"


def _row_entry(row: Row, year: int, pools: dict[str, int], institutions: dict[str, int]) -> Entry:
    """One row as an entry; ``ValueError`` (Chinese, without the row number) when it is wrong."""
    year_text = row.text("年度")
    if year_text != str(year):
        raise ValueError(f"年度应为 {year}，实际为“{year_text or '空'}”")
    kind_name, code, name = row.text("类别"), row.text("编码"), row.text("名称")
    value = row.text("数值")
    where = _where(row)
    if kind_name == KIND_NAMES["fund"]:
        pool_id = pools.get(code) or pools.get(name)
        if pool_id is None:
            raise ValueError(f"没有编码为“{code or name}”的结算池")
        return Entry("fund", pool_id, (value,), where)
    if kind_name == KIND_NAMES["split"]:
        if not code and name == DEFAULT_SPLIT:
            key = None
        else:
            key = institutions.get(code) or institutions.get(name)
            if key is None:
                raise ValueError(f"没有编码为“{code or name}”的医疗机构")
        return Entry("split", key, (value, row.text("站点部分")), where)
    if kind_name == KIND_NAMES["post"]:
        return Entry("post", name, (value,), where)
    if kind_name == KIND_NAMES["standard"]:
        return Entry("standard", "" if name == DEFAULT_STANDARD else name, (value,), where)
    if kind_name == KIND_NAMES["parameters"]:
        field = next((f for f, label in PARAMETER_NAMES.items() if label == name), None)
        if field is None:
            raise ValueError(
                f"未知的比例参数“{name}”，应为{'、'.join(PARAMETER_NAMES.values())}之一"
            )
        return Entry("parameters", field, (value,), where)
    raise ValueError(f"未知的类别“{kind_name or '空'}”，应为{'、'.join(KIND_NAMES.values())}之一")


def _parameters_entry(rows: list[_Keyed], year: int) -> Entry | None:
    """The rate rows merged into one entry; a rate the file leaves out keeps its current value."""
    given = {str(k.entry.key): k.entry.values[0] for k in rows if k.entry.values[0]}
    if not given:
        return None
    current = current_values(year)
    values = tuple(given.get(f, current[f]) for f in PARAMETER_FIELDS)
    where = "、".join(f"第{n}行" for k in rows for n in k.rows)
    return Entry("parameters", None, values, where)


def file_entries(filename: str, content: bytes, year: int) -> list[Entry]:
    """The entries of an uploaded file; ``YearConfigInvalid`` naming each bad row (or the file)."""
    try:
        table = read_table(filename, content)
    except ImportFileError as exc:
        raise YearConfigInvalid([FieldError("文件", str(exc))]) from None
    missing = [h for h in HEADERS if h not in table.headers]
    if missing:
        raise YearConfigInvalid(
            [FieldError("文件", f"缺少列：{'、'.join(missing)}（请使用下载的模板）")]
        )
    if not table.rows:
        raise YearConfigInvalid([FieldError("文件", "文件中没有数据行")])
    pools = {u.code: u.id for u in parameters.pools()} | {u.name: u.id for u in parameters.pools()}
    insts = parameters.institutions()
    institutions = {u.code: u.id for u in insts} | {u.name: u.id for u in insts}
    errors: list[FieldError] = []
    seen: dict[tuple[str, Any], int] = {}
    keyed: list[_Keyed] = []
    for row in table.rows:
        try:
            entry = _row_entry(row, year, pools, institutions)
        except ValueError as exc:
            errors.append(FieldError(_where(row), f"第{row.number}行：{exc}"))
            continue
        first = seen.setdefault((entry.kind, entry.key), row.number)
        if first != row.number:
            errors.append(FieldError(_where(row), f"第{row.number}行：与第{first}行重复"))
            continue
        keyed.append(_Keyed(entry, (row.number,)))
    if errors:
        raise YearConfigInvalid(errors)
    rates = [k for k in keyed if k.entry.kind == "parameters"]
    merged = _parameters_entry(rates, year)
    entries = [k.entry for k in keyed if k.entry.kind != "parameters"]
    return ([merged] if merged else []) + entries


def row_messages(errors: Iterable[FieldError]) -> list[str]:
    """Errors for the page: a row's message starts with its row number."""
    return [
        e.message if e.message.startswith(e.where) else f"{e.where}：{e.message}" for e in errors
    ]
