"""The steps of member, team and fund lines (issue 18): a new sheet stores none, the line page
writes them from what the line stores (factors or figures, weight, share, amounts) — the very
steps the cascade gives from the sheet's stored inputs — and a line of an older sheet, stored with
its steps, shows those."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from assessments.cascade import settle
from assessments.cascade.steps import WRITTEN_WHEN_SHOWN, line_steps
from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.cascade import settlement_inputs
from fdoctor.settlement.models import Settlement, SettlementLine
from fdoctor.settlement.queries import explanation_of, stored_explanation
from tests.conftest import AuthActions
from tests.factories.settlement import YEAR
from tests.factories.users import make_user

pytestmark = pytest.mark.db

# The nurse of T1: 6 workload points of a standard of 8 (nurses), y 1, c 1.2 and 216 of 240 days.
NURSE_STEPS = (
    "k（工作量达标系数）= min(本年工作量 6 点 ÷ 标准 8 点, 上限 1.2) = 0.75（点数 = Σ 各类有效服务"
    "记录数 × 该类点数，点数表：市级默认工作量点数表；核实为虚假或有争议的记录不计）",
    "y（岗位系数，岗位：护士）= 1",
    "c（个人绩效考评系数，团队长录入）= 1.2",
    "a（出勤系数）= 实际出勤 216 天 ÷ 应出勤 240 天（12 个月的出勤记录）= 0.9",
    "权重 = k × y × c × a = 0.75 × 1 × 1.2 × 0.9 = 0.81",
    "份额 = 0.81 ÷ Σ权重 2.01 = 27/67 ≈ 0.40298507",
    "精确金额 = 份额 × 可分配 249,754 分 = ≈100,647.134328 分",
    "按最大余额法取整：100,647 分（1,006.47 元）",
    "舍入调整 = ≈-0.134328 分（精确值 -9/67 分）",
)


# The team T1: P 4, four published quarters, the whole centre part of its institution.
TEAM_STEPS = (
    "P（签约人口）= 4 人",
    "季度考核得分（4 个季度：2026-Q1、2026-Q2、2026-Q3、2026-Q4）= 90.00 + 80.00 + 85.00 + "
    "95.00，平均 S̄ = 87.5（按精确值计算份额，不先四舍五入；表中显示 87.50）",
    "P × S = 4 × 87.5 = 350",
    "份额 = 350 ÷ Σ(P × S) 350 = 1 ≈ 1.00000000",
    "精确金额 = 份额 × 社区卫生服务中心部分 277,505 分 = 277,505 分",
    "按最大余额法取整：277,505 分（2,775.05 元）",
    "舍入调整 = 277,505 − 277,505 = 0 分（精确值 0 分）",
)


@pytest.fixture()
def built(world: Any) -> Settlement:
    city = make_user("city-user", "city_admin", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    return settlement


def member_rows(settlement: Settlement) -> list[SettlementLine]:
    return list(
        db.session.scalars(
            select(SettlementLine).where(
                SettlementLine.settlement_id == settlement.id, SettlementLine.level == "member"
            )
        )
    )


def nurse_line(settlement: Settlement, world: Any) -> SettlementLine:
    user_id = world.users["T1N"].id
    return next(row for row in member_rows(settlement) if row.user_id == user_id)


def test_a_new_sheet_stores_no_member_team_or_fund_steps_and_shows_those_of_the_cascade(
    built: Settlement,
) -> None:
    rows = list(
        db.session.scalars(
            select(SettlementLine).where(
                SettlementLine.settlement_id == built.id,
                SettlementLine.level.in_(tuple(WRITTEN_WHEN_SHOWN)),
            )
        )
    )
    assert {"member", "team", "reserve"} <= {row.level for row in rows}
    assert all("steps" not in stored_explanation(row) for row in rows)
    live = {line.key: line for line in settle(settlement_inputs(json.loads(built.inputs_json)))}
    outputs = json.loads(built.outputs_json)
    for row in rows:
        steps = explanation_of(row)["steps"]
        assert steps and steps == list(line_steps(live[row.key])), row.key
        assert "steps" not in outputs[row.position]["explanation"], row.key


def test_the_team_line_page_shows_the_steps(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    team = db.session.scalars(
        select(SettlementLine).where(
            SettlementLine.settlement_id == built.id,
            SettlementLine.key == f"team:{world.units['T1'].id}",
        )
    ).one()
    auth.login_as("city-user")
    html = client.get(f"/settlement/{built.id}/line/{team.id}").get_data(as_text=True)
    assert '<ol class="mb-0">' + "".join(f"<li>{step}</li>" for step in TEAM_STEPS) in html


def test_the_member_line_page_shows_the_steps(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    line = nurse_line(built, world)
    auth.login_as("city-user")
    html = client.get(f"/settlement/{built.id}/line/{line.id}").get_data(as_text=True)
    assert '<ol class="mb-0">' + "".join(f"<li>{step}</li>" for step in NURSE_STEPS) in html


def test_a_line_stored_with_its_steps_shows_those(
    built: Settlement, world: Any, client: FlaskClient, auth: AuthActions
) -> None:
    # A sheet built before the steps were written when shown: the steps stored, the factors
    # without the team's figures. Its stored steps are shown as they are, not written again.
    line = nurse_line(built, world)
    stored = stored_explanation(line)
    for key in ("cap", "total_weight", "distributed_fen"):
        del stored["factors"][key]
    stored["steps"] = ["旧版结算表保存的第一步", "旧版结算表保存的第二步"]
    line.explanation = json.dumps(stored, ensure_ascii=False)
    db.session.commit()
    assert explanation_of(line)["steps"] == stored["steps"]
    auth.login_as("city-user")
    html = client.get(f"/settlement/{built.id}/line/{line.id}").get_data(as_text=True)
    assert "<li>旧版结算表保存的第一步</li><li>旧版结算表保存的第二步</li>" in html
    assert "工作量达标系数）=" not in html
