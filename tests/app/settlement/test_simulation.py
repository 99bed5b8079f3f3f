"""Simulation (模拟测算) on the hand-built city's draft: what changes, what does not, saving,
comparing and the refusals.

A pool fund +10 % worked by hand (the draft's figures are in ``test_cascade.py``): 市区 goes
from 1,000,000 to 1,100,000 fen. 甲区 weighs 9 × 90 = 810 and 乙区 5 × 80 = 400 of Σ 1210:
甲区 1,100,000 × 810 / 1210 = 736,363.64 and 乙区 363,636.36; the floors leave one fen, which
goes to 甲区 (.64 > .36): 736,364 and 363,636, that is +66,943 and +33,057 fen on the draft's
669,421 and 330,579 (both +10.00 %). Inside 甲区, 甲一 570 and 甲二 255 of 825: 508,760.58 and
227,603.42 → 508,761 (the leftover fen, .58 > .42) and 227,603: +46,252 and +20,691 fen on
462,509 and 206,912. 乙一 takes all of 乙区 (+33,057). The other pool (县市) does not move.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.audit.models import AuditEntry
from fdoctor.extensions import db
from fdoctor.settlement import approval, simulation
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.models import Settlement, SettlementLine, SettlementSimulation
from tests.app.settlement.test_pages import logins, post
from tests.conftest import AuthActions
from tests.factories.settlement import YEAR, build_world

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world()
    logins(built)
    db.session.commit()
    return built


@pytest.fixture()
def draft(world: Any) -> Settlement:
    settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    simulation.forget_bases()
    return settlement


def lines_snapshot(settlement: Settlement) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(SettlementLine.__table__).where(SettlementLine.settlement_id == settlement.id)
            .order_by(SettlementLine.id)
        )
    ]  # fmt: skip


def entries() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id))) or 0


def by_unit(result: simulation.Result) -> dict[int, simulation.Row]:
    return {row.unit_id: row for row in result.rows}


def test_a_fund_plus_ten_percent_moves_that_pools_counties_by_the_hand_computed_fen(
    world: Any, draft: Settlement
) -> None:
    pool = world["市区"].id
    result = simulation.simulate(draft, simulation.Overrides(funds={pool: 1_100_000}))
    rows = by_unit(result)
    expected = {  # unit: (draft, simulated)
        "市区": (1_000_000, 1_100_000),
        "甲区": (669_421, 736_364),
        "乙区": (330_579, 363_636),
        "甲一": (462_509, 508_761),
        "甲二": (206_912, 227_603),
        "乙一": (330_579, 363_636),
        "县市": (500_000, 500_000),
        "丙县": (500_000, 500_000),
        "丙一": (500_000, 500_000),
    }
    assert {
        k: (rows[world[k].id].draft_fen, rows[world[k].id].simulated_fen) for k in expected
    } == (expected)
    assert rows[world["甲区"].id].diff_fen == 66_943
    assert rows[world["乙区"].id].diff_fen == 33_057
    assert rows[world["甲区"].id].diff_pct == Decimal("10.00")
    assert rows[world["乙区"].id].diff_pct == Decimal("10.00")
    assert rows[world["丙县"].id].diff_fen == 0 and rows[world["丙县"].id].diff_pct == 0
    # Every team and member of 市区 moves (T1–T4); 县市's (T5, T6) do not.
    assert (result.teams, result.teams_changed) == (6, 4)
    assert [r.level for r in result.rows[:3]] == ["pool", "county", "institution"]


def test_a_simulation_writes_nothing_in_the_sheet(world: Any, draft: Settlement) -> None:
    before, mark, version = lines_snapshot(draft), entries(), draft.version
    overrides = simulation.Overrides(
        funds={world["县市"].id: 800_000},
        county_scores={world["甲区"].id: Decimal("60")},
        splits={world["甲一"].id: (Decimal(50), Decimal(50))},
        reserve_rate=Decimal("0.2"),
    )
    result = simulation.simulate(draft, overrides)
    db.session.flush()
    assert any(row.diff_fen for row in result.counties)
    assert lines_snapshot(draft) == before
    assert entries() == mark
    db.session.expire_all()
    assert db.session.get(Settlement, draft.id).version == version  # type: ignore[union-attr]


def test_a_county_score_a_split_and_the_reserve_rate_each_change_what_they_should(
    world: Any, draft: Settlement
) -> None:
    # 甲区 90 → 60: weights 540 and 400 of 940: 574,468.09 → 574,468 and 425,531.91 → 425,532.
    rows = by_unit(simulation.simulate(
        draft, simulation.Overrides(county_scores={world["甲区"].id: Decimal("60")})
    ))  # fmt: skip
    assert rows[world["甲区"].id].simulated_fen == 574_468
    assert rows[world["乙区"].id].simulated_fen == 425_532
    # A split moves money between 甲一's parts only: no county or institution changes.
    result = simulation.simulate(
        draft, simulation.Overrides(splits={world["甲一"].id: (Decimal(50), Decimal(50))})
    )
    assert not any(row.diff_fen for row in result.rows)
    assert result.teams_changed == 2  # T1 and T2
    # The reserve rate moves members, not teams.
    result = simulation.simulate(draft, simulation.Overrides(reserve_rate=Decimal("0.2")))
    assert result.teams_changed == 0 and result.members_changed > 0


def test_refusals_name_the_problem_in_chinese(world: Any, draft: Settlement) -> None:
    cases = [
        (simulation.Overrides(county_scores={999_999: Decimal(80)}), "未知的县（市、区）"),
        (simulation.Overrides(funds={world["市区"].id: -1}), "资金不能为负数"),
        (simulation.Overrides(reserve_rate=Decimal("1.5")), "部门基金提取比例须在 0%–100% 之间"),
        (simulation.Overrides(county_scores={world["甲区"].id: Decimal(101)}), "0–100"),
        (simulation.Overrides(splits={world["甲一"].id: (Decimal(70), Decimal(20))}), "之和须为 100%"),
        (simulation.Overrides(splits={world["甲二"].id: (Decimal(70), Decimal(30))}), "只在一个部分"),
    ]  # fmt: skip
    for overrides, message in cases:
        with pytest.raises(SettlementError, match=re.escape(message)):
            simulation.simulate(draft, overrides)


def test_only_a_draft_settlement_is_simulated(world: Any, draft: Settlement) -> None:
    approval.transition(draft, "review", world.users["city"])
    db.session.commit()
    with pytest.raises(SettlementError, match="只能在草稿上进行"):
        simulation.simulate(draft, simulation.Overrides())


def test_saved_simulations_are_audited_and_compared(world: Any, draft: Settlement) -> None:
    city = world.users["city"]
    mark = entries()
    lines = lines_snapshot(draft)
    plus = simulation.save(
        draft, "资金增加10%", simulation.Overrides(funds={world["市区"].id: 1_100_000}), city
    )
    lower = simulation.save(
        draft, "甲区降分", simulation.Overrides(county_scores={world["甲区"].id: Decimal(60)}), city
    )
    db.session.commit()
    assert lines_snapshot(draft) == lines
    logged = db.session.scalars(
        select(AuditEntry).where(AuditEntry.id > mark).order_by(AuditEntry.id)
    ).all()
    assert [(e.table_name, e.action) for e in logged] == [("settlement_simulation", "create")] * 2
    assert {e.row_id for e in logged} == {str(plus.id), str(lower.id)}
    assert simulation.overrides_of(plus).funds == {world["市区"].id: 1_100_000}
    assert plus.created_by_id == city.id and plus.base_sha256 == draft.sha256

    rows = {r.name: r for r in simulation.compare(draft, plus, lower)}
    assert (rows["甲区"].draft_fen, rows["甲区"].first_fen, rows["甲区"].second_fen) == (
        669_421, 736_364, 574_468,
    )  # fmt: skip
    assert rows["甲区"].diff_fen == 574_468 - 736_364
    assert rows["丙县"].diff_fen == 0

    with pytest.raises(SettlementError, match="已有名为「资金增加10%」的模拟方案"):
        simulation.save(
            draft, "资金增加10%", simulation.Overrides(reserve_rate=Decimal("0.1")), city
        )
    with pytest.raises(SettlementError, match="没有任何调整"):
        simulation.save(draft, "空方案", simulation.Overrides(), city)
    db.session.rollback()
    assert db.session.scalar(select(func.count(SettlementSimulation.id))) == 2


def test_a_recomputed_draft_is_simulated_afresh(world: Any, draft: Settlement) -> None:
    pool = world["市区"].id
    first = by_unit(simulation.simulate(draft, simulation.Overrides()))
    assert first[world["甲区"].id].draft_fen == 669_421
    from fdoctor.settlement.models import PoolFund

    fund = db.session.scalar(select(PoolFund).where(PoolFund.pool_id == pool))
    assert fund is not None
    fund.fund_fen = 2_000_000
    build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    again = by_unit(simulation.simulate(draft, simulation.Overrides()))
    assert again[world["甲区"].id].draft_fen == 1_338_843


# --------------------------------------------------------------------------- pages


def test_the_page_shows_the_simulation_beside_the_draft(
    world: Any, draft: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("finance-user")
    page = client.get(f"/settlement/{draft.id}/simulate")
    assert page.status_code == 200
    assert "模拟测算" in page.text and "草稿应得（元）" in page.text
    before = lines_snapshot(draft)
    answer = post(
        client,
        f"/settlement/{draft.id}/simulate",
        {f"fund_{world['市区'].id}": "11,000.00", "action": "simulate"},
        token_from=f"/settlement/{draft.id}/simulate",
    )
    assert answer.status_code == 200
    assert "+66,943" in answer.text and "+10.00%" in answer.text and "+33,057" in answer.text
    assert lines_snapshot(draft) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score_999999", "80", "未知的县（市、区）（编号 999999）"),
        ("fund", "-100", "资金不能为负数"),
        ("reserve_pct", "120", "部门基金提取比例须在 0%–100% 之间"),
        ("reserve_pct", "abc", "部门基金提取比例（%）必须是数字"),
    ],
)
def test_the_form_refuses_bad_input_in_chinese_and_saves_nothing(
    world: Any,
    draft: Settlement,
    client: FlaskClient,
    field: str,
    value: str,
    message: str,
    auth: AuthActions,
) -> None:
    auth.login_as("city-user")
    name = f"fund_{world['市区'].id}" if field == "fund" else field
    answer = post(
        client,
        f"/settlement/{draft.id}/simulate",
        {name: value, "action": "save", "name": "不应保存"},
        token_from=f"/settlement/{draft.id}/simulate",
    )
    assert answer.status_code == 400
    assert message in answer.text
    assert db.session.scalar(select(func.count(SettlementSimulation.id))) == 0


def test_saving_and_comparing_through_the_pages(
    world: Any, draft: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("finance-user")
    path = f"/settlement/{draft.id}/simulate"
    saved = post(client, path, {f"fund_{world['市区'].id}": "11000", "action": "save",
                                "name": "方案甲"}, token_from=path)  # fmt: skip
    assert saved.status_code == 302
    post(client, path, {f"score_{world['甲区'].id}": "60", "action": "save", "name": "方案乙"},
         token_from=path)  # fmt: skip
    ids = db.session.scalars(
        select(SettlementSimulation.id).order_by(SettlementSimulation.id)
    ).all()
    assert len(ids) == 2
    loaded = client.get(f"{path}?saved={ids[0]}")
    assert loaded.status_code == 200 and "方案甲" in loaded.text and "+66,943" in loaded.text
    compared = client.get(f"/settlement/{draft.id}/simulations/compare?a={ids[0]}&b={ids[1]}")
    assert compared.status_code == 200
    assert "方案甲" in compared.text and "方案乙" in compared.text
    assert f"{574_468 - 736_364:+,}" in compared.text


def test_only_finance_and_the_city_may_simulate(
    world: Any, draft: Settlement, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("county-user")
    assert client.get(f"/settlement/{draft.id}/simulate").status_code == 403
    auth.logout()
    auth.login_as("centre-user")
    assert client.get(f"/settlement/{draft.id}/simulate").status_code == 403
    auth.logout()
    auth.login_as("city-user")
    assert client.get(f"/settlement/{draft.id}/simulate").status_code == 200
    assert "模拟测算" in client.get(f"/settlement/{draft.id}").text


@pytest.mark.parametrize("reserve", [None, Decimal("0.25")])
def test_the_step_equals_the_whole_cascade_rerun(
    world: Any, draft: Settlement, reserve: Decimal | None
) -> None:
    """Teams' members are distributed again only where something moved: the counts equal those
    of the whole cascade run on the changed inputs, and the draft's own inputs change nothing."""
    from assessments.cascade import settle

    overrides = simulation.Overrides(
        funds={world["市区"].id: 1_234_567}, county_scores={world["丙县"].id: Decimal("70")},
        reserve_rate=reserve,
    )  # fmt: skip
    result = simulation.simulate(draft, overrides)
    base = simulation.base_of(draft)
    whole = {
        line.key: line.entitled_fen for line in settle(simulation.apply(base.inputs, overrides))
    }
    changed = {k for k, v in whole.items() if base.amounts[k] != v}
    assert result.members_changed == sum(1 for k in changed if k.startswith("member:"))
    assert result.teams_changed == sum(1 for k in changed if k.startswith("team:"))
    assert {r.unit_id: r.simulated_fen for r in result.rows} == {
        int(k.split(":")[1]): v for k, v in whole.items()
        if k.split(":")[0] in ("pool", "county", "institution")
    }  # fmt: skip
    unchanged = simulation.simulate(draft, simulation.Overrides())
    assert not any(r.diff_fen for r in unchanged.rows)
    assert (unchanged.teams_changed, unchanged.members_changed) == (0, 0)
    assert unchanged.members == sum(1 for k in whole if k.startswith("member:"))
