"""Importing households: good files, the same file twice, and rows out of scope or malformed."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.imports.models import ImportRun
from tests.app.imports.helpers import count, csv_bytes, upload, xlsx_bytes
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db

HEADER = ["户编号", "网格编码", "地址", "联系电话", "责任医生账号"]


def _rows() -> list[list[object]]:
    return [
        HEADER,
        ["IMP-001", "G-T1-A1-C1-B1", "幸福小区1号楼301室", "13911112222", "doc1"],
        ["IMP-002", "G-T1-A1-C2", "东关村20号", "", ""],
    ]


def test_good_xlsx_file_imports_every_row(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    before = count(Household)
    status, _ = upload(client, token, "households", xlsx_bytes(_rows()), "家庭.xlsx")
    assert status == 302
    assert count(Household) == before + 2
    household = db.session.scalar(select(Household).where(Household.code == "IMP-001"))
    assert household is not None
    assert household.team_id == world.tree.team.id
    assert household.station_id == world.tree.station.id
    assert household.responsible_doctor_id == world.users["doctor"].id


def test_success_message_gives_the_counts(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "households", xlsx_bytes(_rows()), "家庭.xlsx")
    html = client.get("/imports/households").get_data(as_text=True)
    assert "导入成功：共2行，新增2条，更新0条，未变化0条" in html


def test_same_file_twice_creates_no_duplicates(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    content = xlsx_bytes(_rows())
    upload(client, token, "households", content, "家庭.xlsx")
    before = count(Household)
    status, _ = upload(client, token, "households", content, "家庭.xlsx")
    assert status == 302
    assert count(Household) == before
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None
    assert (run.created_count, run.updated_count, run.unchanged_count) == (0, 0, 2)


def test_changed_row_is_counted_as_updated(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "households", xlsx_bytes(_rows()), "家庭.xlsx")
    rows = _rows()
    rows[2][2] = "东关村21号"
    upload(client, token, "households", xlsx_bytes(rows), "家庭.xlsx")
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and (run.updated_count, run.unchanged_count) == (1, 1)
    address = db.session.scalar(select(Household.address).where(Household.code == "IMP-002"))
    assert address == "东关村21号"


def test_row_in_another_teams_grid_is_refused_and_nothing_imported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows() + [["IMP-003", "G-T2-A1-C1", "和平小区5号楼", "", ""]]
    before = count(Household)
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "网格编码 G-T2-A1-C1 不存在或不在您的管辖范围内" in html
    assert count(Household) == before


def test_existing_code_of_another_county_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER, ["H-X-001", "G-T1-A1-C2", "东关村1号", "", ""]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "户编号 H-X-001 已被您管辖范围外的家庭使用" in html


def test_duplicate_codes_inside_the_file_are_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = _rows() + [["IMP-001", "G-T1-A1-C2", "东关村9号", "", ""]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "与第2行的户编号重复" in html


def test_grid_cell_must_be_the_lowest_level(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER, ["IMP-009", "G-T1-A1", "东街", "", ""]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "请填写最末一级网格" in html


def test_doctor_of_another_team_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER, ["IMP-009", "G-T1-A1-C2", "东关村", "", "doc2"]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "doc2 不是该网格所属团队的医生" in html


def test_missing_required_column_is_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [["户编号", "地址"], ["IMP-009", "东关村"]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "<td>1</td><td>网格编码</td><td>缺少必填列，请使用导入模板</td>" in html


def test_unknown_column_is_reported(client: FlaskClient, world: World, auth: AuthActions) -> None:
    token = auth.login_as(world.users["doctor"])
    rows = [HEADER + ["备注"], ["IMP-009", "G-T1-A1-C2", "东关村", "", "", "x"]]
    status, html = upload(client, token, "households", csv_bytes(rows), "家庭.csv")
    assert status == 422
    assert "无法识别的列名" in html
