"""The year's configuration on one form and from the city's spreadsheet: all or nothing."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from fdoctor.audit.models import AuditEntry
from fdoctor.extensions import db
from fdoctor.settlement.models import (
    InstitutionSplit,
    PoolFund,
    PostCoefficient,
    SettlementParameters,
    WorkloadStandard,
)
from tests.conftest import AuthActions, csrf_token
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db
CONFIG = f"/settlement/config?year={YEAR}"
CONFIG_TABLES = (PoolFund, SettlementParameters, InstitutionSplit, PostCoefficient,
                 WorkloadStandard)  # fmt: skip


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world(config=False, ratings=False, scores=False)
    built.users["city"] = make_user("city-user", "city_admin", built["city"])
    db.session.commit()
    return built


def config_rows() -> int:
    return sum(db.session.scalar(select(func.count()).select_from(m)) or 0 for m in CONFIG_TABLES)


def post_rows(html: str) -> dict[str, str]:
    """Post name → row index, as the form shows them."""
    return {
        name: index
        for index, name in re.findall(r'<tr id="post-row-(\d+)">\s*<td>([^<{]+?)<', html)
    }


def year_form(client: FlaskClient, world: Any) -> tuple[dict[str, Any], dict[str, str]]:
    AuthActions(client).login_as("city-user")
    html = client.get(CONFIG).get_data(as_text=True)
    posts = post_rows(html)
    u = world.units
    data = {
        "csrf_token": csrf_token(client, CONFIG),
        "year": YEAR,
        "preallocation_pct": "70",
        "reserve_pct": "12.5",
        "attainment_cap": "1.2",
        f"fund_{u['市区'].id}": "1,000,000.50",
        f"fund_{u['县市'].id}": "800000",
        "split_centre_default": "60",
        "split_stations_default": "40",
        f"split_centre_{u['丙一'].id}": "70",
        f"split_stations_{u['丙一'].id}": "30",
        f"coef_{posts['全科医生']}": "1.2",
        f"coef_{posts['护士']}": "0.9",
        f"std_{posts['护士']}": "500",
        "std_0": "600",
    }
    data |= {f"post_{index}": name for name, index in posts.items()}  # the rows' hidden names
    return data, posts


def test_the_year_form_saves_every_value_in_one_go(world: Any, client: FlaskClient) -> None:
    data, posts = year_form(client, world)
    response = client.post("/settlement/config/year", data=data)
    assert response.status_code == 302
    assert "已保存 2026 年度结算配置" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    u = world.units
    funds = {f.pool_id: f.fund_fen for f in db.session.scalars(select(PoolFund))}
    assert funds == {u["市区"].id: 100_000_050, u["县市"].id: 80_000_000}
    params = db.session.scalar(select(SettlementParameters))
    assert (params.year, params.reserve_rate, params.preallocation_rate) == (
        YEAR, Decimal("0.125"), Decimal("0.7"))  # fmt: skip
    splits = {s.institution_id: (s.centre_ratio, s.stations_ratio)
              for s in db.session.scalars(select(InstitutionSplit))}  # fmt: skip
    assert splits == {None: (60, 40), u["丙一"].id: (70, 30)}
    coefficients = {p.post: p.coefficient for p in db.session.scalars(select(PostCoefficient))}
    assert coefficients == {"全科医生": Decimal("1.2"), "护士": Decimal("0.9")}
    standards = {(s.year, s.post): s.standard_points
                 for s in db.session.scalars(select(WorkloadStandard))}  # fmt: skip
    assert standards == {(YEAR, ""): 600, (YEAR, "护士"): 500}
    # The page shows what was saved, and a new post can be added on the blank row.
    html = client.get(CONFIG).get_data(as_text=True)
    assert 'value="1,000,000.50"' in html and 'value="12.5"' in html
    new_row = min(
        int(i) for i in re.findall(r'<input class="form-control[^"]*" name="post_(\d+)"', html)
    )
    again = {**data, "csrf_token": csrf_token(client, CONFIG), f"post_{new_row}": "公卫医师",
             f"coef_{new_row}": "1.1"}  # fmt: skip
    assert client.post("/settlement/config/year", data=again).status_code == 302
    assert db.session.scalar(
        select(PostCoefficient.coefficient).where(PostCoefficient.post == "公卫医师")
    ) == Decimal("1.1")


def test_a_bad_value_anywhere_saves_nothing_and_names_the_field(
    world: Any, client: FlaskClient
) -> None:
    data, posts = year_form(client, world)
    u = world.units
    data[f"fund_{u['县市'].id}"] = "12.345"
    data[f"split_stations_{u['丙一'].id}"] = ""
    data[f"coef_{posts['护士']}"] = "abc"
    response = client.post("/settlement/config/year", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "结算池「县市」的资金最多保留 2 位小数：12.345" in html
    assert "请填写站点部分比例" in html
    assert "岗位「护士」的岗位系数必须是数字：abc" in html
    assert f'id="fund_{u["县市"].id}-error"' in html  # marked at the field
    assert 'value="1,000,000.50"' in html  # what was typed stays on the page
    assert config_rows() == 0


def test_values_follow_the_posts_name_not_its_row(world: Any, client: FlaskClient) -> None:
    """A post added meanwhile shifts the rows: each value still goes to the post it was typed for."""
    data, posts = year_form(client, world)
    nurse, gp = posts["护士"], posts["全科医生"]
    data |= {f"post_{nurse}": "全科医生", f"coef_{nurse}": "1.3",
             f"post_{gp}": "护士", f"coef_{gp}": "0.7"}  # fmt: skip
    assert client.post("/settlement/config/year", data=data).status_code == 302
    coefficients = {p.post: p.coefficient for p in db.session.scalars(select(PostCoefficient))}
    assert coefficients == {"全科医生": Decimal("1.3"), "护士": Decimal("0.7")}


def test_a_post_named_on_two_rows_is_refused(world: Any, client: FlaskClient) -> None:
    data, posts = year_form(client, world)
    html = client.get(CONFIG).get_data(as_text=True)
    blank = min(
        int(i) for i in re.findall(r'<input class="form-control[^"]*" name="post_(\d+)"', html)
    )
    data |= {f"post_{blank}": "护士", f"coef_{blank}": "1.1"}
    response = client.post("/settlement/config/year", data=data)
    assert response.status_code == 422
    assert "岗位「护士」填写了两行，请只保留一行" in response.get_data(as_text=True)
    assert config_rows() == 0


def test_a_zero_split_fails_the_whole_form(world: Any, client: FlaskClient) -> None:
    data, _ = year_form(client, world)
    data["split_centre_default"], data["split_stations_default"] = "0", "0"
    response = client.post("/settlement/config/year", data=data)
    assert response.status_code == 422
    assert "中心部分与站点部分的比例不能同时为 0" in response.get_data(as_text=True)
    assert config_rows() == 0


def test_only_the_city_enters_the_year(world: Any, client: FlaskClient, auth: AuthActions) -> None:
    assert auth.login("t1-leader", PASSWORD).status_code == 302
    token = csrf_token(client, "/settlement/ratings")
    response = client.post("/settlement/config/year", data={"csrf_token": token, "year": YEAR,
                                                            "reserve_pct": "50"})  # fmt: skip
    assert response.status_code == 403
    assert client.get(f"/settlement/config/{YEAR}/template.xlsx").status_code == 403
    assert config_rows() == 0


# --------------------------------------------------------------------------- the spreadsheet


def download(client: FlaskClient) -> Workbook:
    response = client.get(f"/settlement/config/{YEAR}/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data))


def upload(client: FlaskClient, book: Workbook, name: str = "结算配置表.xlsx") -> Any:
    buffer = io.BytesIO()
    book.save(buffer)
    return client.post(
        "/settlement/config/import",
        data={
            "csrf_token": csrf_token(client, CONFIG),
            "year": YEAR,
            "file": (io.BytesIO(buffer.getvalue()), name),
        },  # fmt: skip
        content_type="multipart/form-data",
    )


def rows_of(book: Workbook) -> dict[tuple[str, str], int]:
    """(类别, 编码 or 名称) → row number of the first sheet."""
    sheet = book.worksheets[0]
    return {
        (row[1].value, row[2].value or row[3].value): row[0].row
        for row in sheet.iter_rows(min_row=2)
    }


def test_the_template_round_trips(world: Any, client: FlaskClient) -> None:
    data, _ = year_form(client, world)
    assert client.post("/settlement/config/year", data=data).status_code == 302
    book = download(client)
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["年度", "类别", "编码", "名称", "数值", "站点部分"]
    rows = rows_of(book)
    assert sheet.cell(rows[("结算池资金", "T-P1")], 5).value == pytest.approx(1000000.5)
    assert sheet.cell(rows[("拆分比例", "410003-01")], 6).value == 30
    assert "说明" in book.sheetnames
    before = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
              for m in CONFIG_TABLES}  # fmt: skip
    entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
    # Unchanged, the file imports and changes nothing.
    response = upload(client, book)
    assert response.status_code == 302, re.sub(r"\s+", " ", response.get_data(as_text=True))[-3000:]
    db.session.expire_all()
    assert {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
            for m in CONFIG_TABLES} == before  # fmt: skip
    assert db.session.scalar(select(PoolFund.fund_fen).where(
        PoolFund.pool_id == world.units["市区"].id)) == 100_000_050  # fmt: skip
    # Edited in Excel: the new values are saved, and the import is in the audit trail.
    sheet.cell(rows[("结算池资金", "T-P2")], 5).value = 900000.25
    sheet.cell(rows[("岗位系数", "乡村医生")], 5).value = 1.05
    sheet.cell(rows[("比例参数", "预拨比例（%）")], 5).value = 65
    response = upload(client, book)
    assert response.status_code == 302
    assert "已从“结算配置表.xlsx”导入 2026 年度结算配置" in client.get(
        response.headers["Location"]).get_data(as_text=True)  # fmt: skip
    db.session.expire_all()
    assert db.session.scalar(select(PoolFund.fund_fen).where(
        PoolFund.pool_id == world.units["县市"].id)) == 90_000_025  # fmt: skip
    assert db.session.scalar(select(PostCoefficient.coefficient).where(
        PostCoefficient.post == "乡村医生")) == Decimal("1.05")  # fmt: skip
    params = db.session.scalar(select(SettlementParameters))
    assert (params.preallocation_rate, params.reserve_rate) == (Decimal("0.65"), Decimal("0.125"))
    assert db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "config_import")
    ) == 2  # fmt: skip
    assert (db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0) > entries


def test_a_bad_row_names_its_row_and_nothing_is_imported(
    world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("city-user", PASSWORD)
    book = download(client)
    sheet = book.worksheets[0]
    rows = rows_of(book)
    sheet.cell(rows[("结算池资金", "T-P1")], 5).value = 500000
    sheet.cell(rows[("结算池资金", "T-P2")], 5).value = "五十万"
    sheet.cell(rows[("拆分比例", "全市默认")], 5).value = 60  # stations part missing
    response = upload(client, book)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"第{rows[('结算池资金', 'T-P2')]}行：结算池「县市」的资金必须是数字：五十万" in html
    assert f"第{rows[('拆分比例', '全市默认')]}行：请填写站点部分比例" in html
    assert config_rows() == 0


def test_rows_that_cannot_be_read_are_named(
    world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("city-user", PASSWORD)
    book = download(client)
    sheet = book.worksheets[0]
    sheet.append([YEAR, "结算池资金", "NOPE", "", 1, None])
    sheet.append([YEAR - 1, "岗位系数", None, "护士", 1, None])
    sheet.append([YEAR, "岗位系数", None, "护士", 1.1, None])
    sheet.append([YEAR, "奖金", None, "", 1, None])
    last = sheet.max_row
    html = upload(client, book).get_data(as_text=True)
    assert f"第{last - 3}行：没有编码为“NOPE”的结算池" in html
    assert f"第{last - 2}行：年度应为 2026，实际为“2025”" in html
    assert f"第{last - 1}行：与第{rows_of(download(client))[('岗位系数', '护士')]}行重复" in html
    assert f"第{last}行：未知的类别“奖金”" in html
    assert config_rows() == 0


def test_a_file_that_is_not_the_template_is_refused(
    world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login("city-user", PASSWORD)
    book = Workbook()
    book.active.append(["姓名", "金额"])  # type: ignore[union-attr]
    book.active.append(["张三", 1])  # type: ignore[union-attr]
    html = upload(client, book).get_data(as_text=True)
    assert "缺少列：年度、类别、编码、名称、数值、站点部分" in html
    response = upload(client, book, name="结算配置表.xls")
    assert "只支持 .xlsx 或 .csv 文件" in response.get_data(as_text=True)
    assert config_rows() == 0
