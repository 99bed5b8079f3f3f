"""Exports: the settlement sheet and the distribution sheets as PDF (read back with pypdf) and
Excel (read back with openpyxl)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader

from fdoctor.extensions import db
from fdoctor.reports import settlement_sheet as rs
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.sheet import sheet_available, sheet_data
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture()
def sheet(app: Flask) -> dict[str, Any]:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    county = make_user("county-user", "county_auditor", world["甲区"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    return {"world": world, "settlement": settlement, "city": city, "county": county}


def pdf_text(body: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]


def test_the_settlement_pdf_shows_chinese_totals_and_the_hash(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["city"])
    text = "\n".join(pdf_text(rs.build_settlement_pdf(data)))
    assert "2026年度家庭医生签约服务补助资金结算表" in text
    for expected in (
        "市区",
        "甲区",
        "乙区",
        "丙县",
        "签约人口",
        "应得",
        "差额",
        "合计",
        "制表",
        "审核",
        "负责人",
    ):
        assert expected in text, expected
    assert "6,694.21" in text and "3,305.79" in text  # 甲区 and 乙区
    assert "10,000.00" in text and "15,000.00" in text  # 市区 subtotal and the total
    assert sheet["settlement"].sha256 in text.replace("\n", "")


def test_the_pdf_embeds_its_chinese_font(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["city"])
    reader = PdfReader(io.BytesIO(rs.build_settlement_pdf(data)))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = [f.get_object() for f in fonts.values()]
    descriptors = [
        f["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        if "/DescendantFonts" in f
        else f.get("/FontDescriptor")
        for f in embedded
    ]
    assert any(d is not None and "/FontFile2" in d.get_object() for d in descriptors)


def test_long_tables_repeat_their_header_on_every_page() -> None:
    columns = [rs.Column("结算池", rs.TEXT, 40), rs.Column("县（市、区）", rs.TEXT, 60),
               rs.Column("签约人口 P", rs.INT, 40), rs.Column("应得（元）", rs.FEN, 50)]  # fmt: skip
    rows = [["市区", f"第{i}区", 1000 + i, 100_000 + i] for i in range(150)]
    data = rs.Sheet("长表测试", "2026 年度", columns, [rs.Group("结算池：市区", rows, ["小计", "", 0, 0])],
                    sha256="ab" * 32, status_label="草稿")  # fmt: skip
    pages = pdf_text(rs.build_settlement_pdf(data))
    assert len(pages) >= 3
    for page in pages[1:-1]:
        assert "签约人口 P" in page and "应得（元）" in page
    assert "第149区" in pages[-1] or "第149区" in pages[-2]


def test_the_settlement_excel_has_numbers_and_exact_totals(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["city"])
    wb = load_workbook(io.BytesIO(rs.build_settlement_xlsx(data)))
    ws = wb["结算表"]
    rows = list(ws.iter_rows(min_row=6, max_col=9))
    counties = [r for r in rows if r[1].value in ("甲区", "乙区", "丙县")]
    subtotals = [r for r in rows if str(r[0].value or "").endswith("小计")]
    total = next(r for r in rows if r[0].value == "合计")
    for row in counties + subtotals + [total]:
        for cell in row[6:9]:
            assert isinstance(cell.value, int | float), cell.coordinate
            assert cell.number_format == "#,##0.00"
    entitled = {r[1].value: Decimal(str(r[6].value)) for r in counties}
    assert entitled == {
        "甲区": Decimal("6694.21"),
        "乙区": Decimal("3305.79"),
        "丙县": Decimal("5000"),
    }
    assert Decimal(str(total[6].value)) == sum(entitled.values()) == Decimal("15000")
    assert sum(Decimal(str(r[6].value)) for r in subtotals) == Decimal(str(total[6].value))
    assert ws["A3"].value == f"SHA-256：{sheet['settlement'].sha256}"


def test_the_excel_lists_the_inputs_on_a_second_sheet(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["city"])
    wb = load_workbook(io.BytesIO(rs.build_settlement_xlsx(data)))
    inputs = wb["输入数据"]
    rows = list(inputs.iter_rows(min_row=5, values_only=True))
    jia = next(r for r in rows if r[1] == "甲区")
    assessment = sheet["world"].assessments["L4 甲区"]
    assert jia[2:7] == (9, 90, "2026", assessment.id, 2)
    assert any(r[0] == "结算池资金" and r[1] == "市区" and "10,000.00" in r[7] for r in rows)


def test_a_county_auditor_exports_only_the_own_county(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["county"])
    names = [row[1] for group in data.groups for row in group.rows]
    assert names == ["甲区"]
    assert data.grand_total is not None and data.grand_total[6] == 669_421


@pytest.mark.parametrize(
    ("kind", "names", "total_fen"),
    [
        ("county", ["甲一中心", "甲二中心", "乙一中心", "丙一卫生院"], 1_500_000),
        (
            "institution",
            [
                "甲一中心团队",
                "甲一站团队",
                "甲二中心团队",
                "乙一中心团队",
                "丙一卫生院团队",
                "丙一村卫生室团队",
            ],
            1_500_000,
        ),
        ("team", ["t1-leader", "t1-nurse", "t1-new（试用期）", "部门基金"], 1_500_000),
    ],
)
def test_distribution_sheets_export_to_pdf_and_excel(
    sheet: dict[str, Any], kind: str, names: list[str], total_fen: int
) -> None:
    data = sheet_data(sheet["settlement"], kind, sheet["city"])
    text = "\n".join(pdf_text(rs.build_distribution_pdf(data)))
    for name in names:
        assert name in text, name
    assert "合计" in text and "15,000.00" in text
    ws = load_workbook(io.BytesIO(rs.build_distribution_xlsx(data))).worksheets[0]
    # The last amount column is what is paid (the team sheet shows gross and deductions before).
    amount_col = max(i for i, c in enumerate(data.columns) if c.kind == rs.FEN)
    rows = list(ws.iter_rows(min_row=6, values_only=True))
    total = next(r for r in rows if r[0] == "合计")
    subtotals = [r for r in rows if r[0] == "小计"]
    assert Decimal(str(total[amount_col])) == Decimal(total_fen) / 100
    assert sum(Decimal(str(r[amount_col])) for r in subtotals) == Decimal(total_fen) / 100
    body = [
        r
        for r in rows
        if r[0] not in ("小计", "合计", None) and isinstance(r[amount_col], int | float)
    ]
    assert sum(Decimal(str(r[amount_col])) for r in body) == Decimal(total_fen) / 100


def test_the_preallocation_sheet_exports(app: Flask) -> None:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    settlement, _ = build_settlement(YEAR, "preallocation", city)
    db.session.commit()
    data = sheet_data(settlement, "settlement", city)
    text = "\n".join(pdf_text(rs.build_settlement_pdf(data)))
    assert "预拨表" in text and "按签约人口" in text and "7,000.00" in text
    assert not sheet_available(settlement, "team")


def test_one_pool_is_exported_alone(sheet: dict[str, Any]) -> None:
    data = sheet_data(sheet["settlement"], "settlement", sheet["city"], sheet["world"]["县市"].id)
    assert [row[1] for group in data.groups for row in group.rows] == ["丙县"]
    assert data.grand_total is not None and data.grand_total[6] == 500_000
