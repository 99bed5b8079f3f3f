"""Importing population denominators: categories, counts, units in scope, upsert by key."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.imports.models import ImportRun
from fdoctor.org.models import PopulationFigure
from tests.app.imports.helpers import count, csv_bytes, upload
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db

HEADER = ["机构编码", "年度", "人群类别", "人数"]


def _rows() -> list[list[object]]:
    return [
        HEADER,
        ["410001-01", 2026, "常住人口", 52000],
        ["410001-01", 2026, "65岁及以上老年人", 6100],
        ["410001-01-S1", "2026", "hypertension", "1,450"],
    ]


def test_centre_imports_population_figures(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["centre"])
    status, _ = upload(client, token, "population", csv_bytes(_rows(), "gbk"), "人口.csv")
    assert status == 302
    figures = {
        (f.org_unit_id, f.category): f.count for f in db.session.scalars(select(PopulationFigure))
    }
    assert figures == {
        (world.tree.institution.id, "registered"): 52000,
        (world.tree.institution.id, "elderly65"): 6100,
        (world.tree.station.id, "hypertension"): 1450,
    }


def test_importing_again_updates_instead_of_duplicating(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["centre"])
    upload(client, token, "population", csv_bytes(_rows()), "人口.csv")
    rows = _rows()
    rows[1][3] = 53000
    status, _ = upload(client, token, "population", csv_bytes(rows), "人口.csv")
    assert status == 302
    assert count(PopulationFigure) == 3
    run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and (run.updated_count, run.unchanged_count) == (1, 2)


def test_bad_population_rows_are_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["centre"])
    rows = [
        HEADER,
        ["410001-01", 2026, "常住人口", -5],
        ["410001-01", 2026, "外来人口", 10],
        ["410002-01", 2026, "常住人口", 10],
        ["410001-01-T1", 2026, "常住人口", 10],
        ["410001-01", 2026, "常住人口", 11],
    ]
    status, html = upload(client, token, "population", csv_bytes(rows), "人口.csv")
    assert status == 422
    assert "人数不能为负数" in html
    assert "无法识别的人群类别“外来人口”" in html
    assert "机构编码 410002-01 不存在或不在您的管辖范围内" in html
    assert "人口数据只能导入到医疗机构或服务站/村卫生室" in html
    assert "与第2行重复（同一机构、年度和人群类别）" in html
    assert count(PopulationFigure) == 0


def test_doctor_may_not_import_population(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, _ = upload(client, token, "population", csv_bytes(_rows()), "人口.csv")
    assert status == 403
    assert count(PopulationFigure) == 0
