"""The monthly workload report generated from its page: an ended month only, in the user's scope
(a county its own report, the city every county's), never twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fdoctor.assessments.models import WorkloadReport
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.factories.org import Tree, make_tree
from tests.factories.settlement import make_services
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def _in_april() -> Iterator[None]:
    with clock.frozen(date(2026, 4, 10)):
        yield


@pytest.fixture()
def tree(app: Flask) -> Tree:
    built = make_tree()
    doctor = make_user("doc", "doctor", built.team)
    other = make_user("other-doc", "doctor", built.other_team)
    make_user("county", "county_auditor", built.county)
    make_user("city", "city_admin", built.city)
    make_services(doctor, built.team, 3, day=date(2026, 3, 5))
    make_services(other, built.other_team, 2, day=date(2026, 3, 6))
    make_services(doctor, built.team, 4, day=date(2026, 4, 1))  # April: not in March's report
    db.session.commit()
    return built


def _generate(client: FlaskClient, month: str) -> str:
    token = csrf_token(client, "/assessments/workload")
    response = client.post(
        "/assessments/workload/generate", data={"csrf_token": token, "month": month}
    )
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _reports() -> dict[int, int]:
    db.session.expire_all()
    return {
        r.county_id: r.total
        for r in db.session.scalars(
            select(WorkloadReport).where(WorkloadReport.period == "2026-03")
        )
    }


def test_the_page_offers_the_last_ended_month(tree: Tree, auth: AuthActions) -> None:
    html = auth.client_for("county").get("/assessments/workload").get_data(as_text=True)
    assert 'id="workload-generate"' in html and 'value="2026-03"' in html


def test_a_county_generates_its_own_report_only(tree: Tree, auth: AuthActions) -> None:
    html = _generate(auth.client_for("county"), "2026-03")
    assert "已生成 2026-03 工作量报表" in html
    assert _reports() == {tree.county.id: 3}
    assert "甲区" in html and "乙县" not in html


def test_the_city_generates_every_countys_report_and_never_twice(
    tree: Tree, auth: AuthActions
) -> None:
    city = auth.client_for("city")
    _generate(city, "2026-03")
    assert _reports() == {tree.county.id: 3, tree.other_county.id: 2}
    again = _generate(city, "2026-03")
    assert "2026-03 的工作量报表此前已生成，未重复生成" in again
    assert len(_reports()) == 2


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-04", "2026-04 尚未结束，最早可于 2026-05-01 生成工作量报表"),
        ("2026-Q1", "月份「2026-Q1」无效，应形如 2026-03"),
        ("三月", "月份「三月」无效，应形如 2026-03"),
    ],
)
def test_a_month_not_ended_or_not_a_month_is_refused(
    tree: Tree, month: str, message: str, auth: AuthActions
) -> None:
    html = _generate(auth.client_for("city"), month)
    assert message in html
    assert db.session.scalar(select(WorkloadReport.id)) is None


def test_other_roles_may_not_generate(tree: Tree, auth: AuthActions) -> None:
    client = auth.client_for("doc")
    token = csrf_token(client, "/")
    response = client.post(
        "/assessments/workload/generate", data={"csrf_token": token, "month": "2026-03"}
    )
    assert response.status_code == 403
    assert db.session.scalar(select(WorkloadReport.id)) is None
