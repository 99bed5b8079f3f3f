"""Pre-allocation for year Y (当年预拨) and the balance at the settlement in Y+1 (次年结算)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from fdoctor.extensions import db
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement, preview
from fdoctor.settlement.inputs import gather_inputs
from fdoctor.settlement.models import PoolFund
from tests.factories.settlement import NOW, YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Any:
    built = build_world()
    built.users["city"] = make_user("city-user", "city_admin", built["city"])
    built.users["finance"] = make_user("finance-user", "finance", built["city"])
    db.session.commit()
    return built


def _lock(world: Any, settlement: Any) -> None:
    for action, who in (("review", "city"), ("approve", "finance"), ("lock", "finance")):
        transition(settlement, action, world.users[who])
        db.session.commit()


def _counties(outputs: list[dict[str, Any]], field: str) -> dict[str, int]:
    return {line["name"]: line[field] for line in outputs if line["level"] == "county"}


def test_without_history_the_budget_goes_by_population_at_the_previous_year_end(world: Any) -> None:
    _inputs, outputs, _ = preview(YEAR, "preallocation")
    # 70% of 1,000,000 fen; at 2025-12-31 only 甲区 has a signed resident. 丙县 has none, so
    # 县市's 350,000 fen budget stays unallocated until the settlement.
    assert _counties(outputs, "preallocated_fen") == {"甲区": 700_000, "乙区": 0, "丙县": 0}
    pools = {
        line["name"]: line["explanation"]["figures"] for line in outputs if line["level"] == "pool"
    }
    assert pools["县市"]["budget_fen"] == 350_000 and pools["县市"]["unallocated_fen"] == 350_000


def test_the_settlement_shows_the_locked_preallocation_and_the_balance(world: Any) -> None:
    preallocation, _ = build_settlement(YEAR, "preallocation", world.users["city"])
    db.session.commit()
    _lock(world, preallocation)
    _inputs, outputs, _ = preview(YEAR, "settlement")
    assert _counties(outputs, "preallocated_fen") == {"甲区": 700_000, "乙区": 0, "丙县": 0}
    # 甲区 is entitled to 669,421 and was paid 700,000 in advance: 30,579 fen are recovered.
    assert _counties(outputs, "balance_fen") == {"甲区": -30_579, "乙区": 330_579, "丙县": 500_000}


def test_an_unlocked_preallocation_blocks_the_settlement(world: Any) -> None:
    build_settlement(YEAR, "preallocation", world.users["city"])
    db.session.commit()
    _inputs, missing = gather_inputs(YEAR, "settlement")
    assert missing == ["2026 年度预拨表尚未锁定（当前：草稿），请先锁定预拨表"]


def test_next_years_preallocation_follows_last_years_locked_settlement(world: Any) -> None:
    settlement, _ = build_settlement(YEAR, "settlement", world.users["city"])
    db.session.commit()
    _lock(world, settlement)
    u = world.units
    db.session.add_all([
        PoolFund(pool_id=u["市区"].id, year=YEAR + 1, fund_fen=2_000_000, updated_at=NOW),
        PoolFund(pool_id=u["县市"].id, year=YEAR + 1, fund_fen=500_000, updated_at=NOW),
    ])  # fmt: skip
    db.session.commit()
    inputs, outputs, _ = preview(YEAR + 1, "preallocation")
    assert inputs["last_year"] == {"settlement_id": settlement.id, "sha256": settlement.sha256}
    # Claims 70% × (669,421 + 330,579) = 700,000 of the 1,400,000 budget, split by last year:
    # 468,594.7 → 468,595 and 231,405.3 → 231,405; 丙县 claims 350,000 of 350,000.
    assert _counties(outputs, "preallocated_fen") == {
        "甲区": 468_595,
        "乙区": 231_405,
        "丙县": 350_000,
    }
    jia = next(line for line in outputs if line["name"] == "甲区")
    assert jia["explanation"]["figures"] == {
        "basis": "last_year",
        "last_year_entitled_fen": 669_421,
    }
    assert json.loads(settlement.inputs_json)["year"] == YEAR
