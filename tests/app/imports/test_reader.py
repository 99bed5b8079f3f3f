"""Reading uploads: .xlsx and .csv in UTF-8 (with or without BOM) and GBK; cell values."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from fdoctor.imports import reader
from fdoctor.imports.reader import (
    MAX_COLUMNS,
    MAX_SHEET_ROWS,
    MAX_UPLOAD_BYTES,
    ImportFileError,
    parse_bool,
    parse_date,
    parse_int,
    read_table,
    split_list,
)

CSV_TEXT = "户编号,地址*, 网格编码\nH1,东街1号,G1\n\nH2,西街2号,G2\n"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("encoding", "expected"), [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"), ("gbk", "GBK")]
)
def test_csv_in_each_encoding_reads_the_same(encoding: str, expected: str) -> None:
    table = read_table("户.csv", CSV_TEXT.encode(encoding))
    assert table.encoding == expected
    assert table.headers == ["户编号", "地址", "网格编码"]  # '*' and spaces dropped
    assert [r.values["地址"] for r in table.rows] == ["东街1号", "西街2号"]


def test_blank_lines_are_skipped_but_row_numbers_kept() -> None:
    table = read_table("户.csv", CSV_TEXT.encode("utf-8"))
    assert [r.number for r in table.rows] == [2, 4]


def test_xlsx_rows_keep_their_types() -> None:
    content = _xlsx([["姓名", "出生日期", "人数"], ["张三", datetime(1990, 1, 2), 12]])
    table = read_table("居民.XLSX", content)
    row = table.rows[0]
    assert row.raw("出生日期") == datetime(1990, 1, 2)
    assert row.text("人数") == "12"


def test_unknown_extension_is_refused() -> None:
    with pytest.raises(ImportFileError, match=r"只支持 \.xlsx 或 \.csv"):
        read_table("户.xls", b"abc")


def test_broken_xlsx_is_refused_in_chinese() -> None:
    with pytest.raises(ImportFileError, match="无法读取该Excel文件"):
        read_table("户.xlsx", b"not a zip file")


def test_undecodable_csv_is_refused_in_chinese() -> None:
    with pytest.raises(ImportFileError, match="无法识别文件编码"):
        read_table("户.csv", b"\xff\xfe\x00\x81\x30\xff\x81")


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImportFileError, match="文件是空的"):
        read_table("户.csv", b"")


def test_repeated_header_is_refused() -> None:
    with pytest.raises(ImportFileError, match="出现了两次"):
        read_table("户.csv", "户编号,户编号\nA,B\n".encode())


def test_file_over_the_limit_is_refused() -> None:
    with pytest.raises(ImportFileError, match="10MB"):
        read_table("户.csv", b"a" * (MAX_UPLOAD_BYTES + 1))


@pytest.mark.parametrize(
    "text",
    ["2026-01-05", "2026/1/5", "2026.1.5", "2026年1月5日", "20260105", "2026-01-05 00:00:00"],
)
def test_common_date_formats_are_read(text: str) -> None:
    assert parse_date(text) == date(2026, 1, 5)


def test_impossible_date_is_a_chinese_error() -> None:
    with pytest.raises(ValueError, match="不是有效日期"):
        parse_date("2026-02-30")


def test_yes_and_no() -> None:
    assert parse_bool("是") and not parse_bool("否") and not parse_bool("")
    with pytest.raises(ValueError, match="应填“是”或“否”"):
        parse_bool("也许")


def test_integers() -> None:
    assert parse_int("1,200") == 1200 and parse_int(3.0) == 3 and parse_int("") is None
    with pytest.raises(ValueError, match="不是整数"):
        parse_int("3.5")


def test_lists_split_on_chinese_and_ascii_separators() -> None:
    assert split_list("高血压、糖尿病，残疾人; 脱贫人口") == [
        "高血压",
        "糖尿病",
        "残疾人",
        "脱贫人口",
    ]


# --- files whose declared or real size is out of proportion to their bytes ----------------


def _rewrite_sheet(content: bytes, edit: Callable[[str], str]) -> bytes:
    """Copy an .xlsx, passing the first sheet's XML through ``edit``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _read_with_peak(content: bytes) -> tuple[str, int]:
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as refused:
            read_table("户.xlsx", content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(refused.value), peak


def test_a_small_xlsx_declaring_the_whole_sheet_is_refused_without_reading_it() -> None:
    small = _xlsx([["户编号", "地址"], ["H1", "东街1号"]])
    content = _rewrite_sheet(
        small, lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', xml)
    )
    assert len(content) < 10_000
    message, peak = _read_with_peak(content)
    assert "A1:XFD1048576（1048576行、16384列）" in message and "超过导入上限" in message
    assert peak < 20 * 1024 * 1024


def test_an_xlsx_skipping_a_million_rows_and_columns_is_refused_in_bounded_memory() -> None:
    """No declared size (or a false one): rows are streamed, capped in width and in count."""
    small = _xlsx([["户编号", "地址"], ["H1", "东街1号"]])

    def far_cells(xml: str) -> str:
        xml = re.sub(r"<dimension [^>]*/>", "", xml)
        far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        return xml.replace("</sheetData>", far + "</sheetData>")

    content = _rewrite_sheet(small, far_cells)
    assert len(content) < 10_000
    message, peak = _read_with_peak(content)
    assert f"表格超过{MAX_SHEET_ROWS}行" in message
    assert peak < 20 * 1024 * 1024


def test_a_column_name_beyond_the_column_limit_is_refused_not_dropped() -> None:
    small = _xlsx([["户编号", "地址"], ["H1", "东街1号"]])

    def far_header(xml: str) -> str:
        xml = re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:B2"', xml)
        cell = '<c r="XFD1" t="inlineStr"><is><t>备注</t></is></c></row>'
        return re.sub(r"(<row r=\"1\"[^>]*>.*?)</row>", lambda m: m.group(1) + cell, xml)

    with pytest.raises(ImportFileError, match=f"表头在第{MAX_COLUMNS}列之后还有内容"):
        read_table("户.xlsx", _rewrite_sheet(small, far_header))


def test_an_xlsx_that_expands_too_far_is_refused_before_decompressing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = _xlsx([["户编号", "地址"], ["H1", "东街1号"]])
    monkeypatch.setattr(reader, "MAX_XLSX_EXPANDED_BYTES", 1024)
    with pytest.raises(ImportFileError, match="解压后超过"):
        read_table("户.xlsx", content)


def test_a_csv_with_too_many_columns_is_refused() -> None:
    header = ",".join(f"列{i}" for i in range(MAX_COLUMNS + 1))
    with pytest.raises(ImportFileError, match=f"表头有{MAX_COLUMNS + 1}列"):
        read_table("户.csv", (header + "\n" + "a\n").encode())


def test_an_ordinary_xlsx_with_trailing_blank_rows_still_reads() -> None:
    rows: list[list[object]] = [["户编号", "地址"], ["H1", "东街1号"]]
    rows += [[None, None]] * 500 + [["H2", "西街2号"]]
    table = read_table("户.xlsx", _xlsx(rows))
    assert [(r.number, r.text("户编号")) for r in table.rows] == [(2, "H1"), (503, "H2")]


@pytest.mark.parametrize("cell", ["东街\x00号", "\x00"])
def test_a_nul_in_a_cell_is_refused_alike_on_every_database(cell: str) -> None:
    """SQLite would store it and PostgreSQL refuse it: the reader refuses it first."""
    content = f"户编号,地址\nH1,东街1号\nH2,{cell}\n".encode()
    with pytest.raises(ImportFileError, match="第3行含有无效字符"):
        read_table("户.csv", content)
