"""The cascade on the hand-built city (factories.py), every figure worked out by hand.

市区: weights 甲区 9 × 90 = 810, 乙区 5 × 80 = 400, Σ 1210; of 1,000,000 fen 甲区's exact share is
669,421.49 and 乙区's 330,578.51: the floors leave one fen, which goes to 乙区 (remainder .51).
甲区 → 甲一 6 × 95 = 570, 甲二 3 × 85 = 255: 462,509.05 → 462,509 and 206,911.95 → 206,912.
甲一 60/40: 277,505.4 → 277,505 and 185,003.6 → 185,004. 丙一 has its own 70/30: 350,000/150,000.
T1 277,505: reserve 27,750.5 → 27,751 (half-up); 249,754 shared 1.2 : 0.81 (leader k 1 × y 1.2;
nurse k 6/8 = 0.75 × y 1 × c 1.2 × a 0.9) → 149,106.87 → 149,107 and 100,647.13 → 100,647.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement, preview
from fdoctor.settlement.cascade import canonical_json, explanation_steps
from fdoctor.settlement.errors import SettlementIncomplete
from fdoctor.settlement.inputs import gather_inputs
from fdoctor.settlement.models import MemberRating, Settlement, SettlementLine
from fdoctor.settlement.queries import visible_lines
from tests.factories.assessments import supersede
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def by_key(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["key"]: line for line in outputs}


def amount(lines: dict[str, dict[str, Any]], key: str) -> int:
    return lines[key]["entitled_fen"]


def assert_parts_sum_exactly(outputs: list[dict[str, Any]]) -> int:
    """Every line's children add up to it exactly; returns the number of parents checked."""
    children: dict[str, list[int]] = defaultdict(list)
    for line in outputs:
        if line["parent"]:
            children[line["parent"]].append(line["entitled_fen"])
    lines = by_key(outputs)
    for parent, parts in children.items():
        assert sum(parts) == lines[parent]["entitled_fen"], parent
    return len(children)


def test_counties_share_each_pool_by_population_times_l4_score(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u = world.units
    assert amount(lines, f"pool:{u['市区'].id}") == 1_000_000
    assert amount(lines, f"county:{u['甲区'].id}") == 669_421
    assert amount(lines, f"county:{u['乙区'].id}") == 330_579
    assert amount(lines, f"county:{u['丙县'].id}") == 500_000


def test_the_leftover_fen_and_its_rounding_adjustment_are_recorded(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    jia, yi = lines[f"county:{world['甲区'].id}"], lines[f"county:{world['乙区'].id}"]
    # 669,421 − 81,000,000/121 = −59/121 and 330,579 − 40,000,000/121 = +59/121.
    assert jia["rounding_adjustment"] == "-59/121"
    assert yi["rounding_adjustment"] == "59/121"
    assert jia["share"] == "81/121" and jia["share_display"] == "0.66942149"
    assert jia["weight"] == "810"


def test_counties_pass_their_amount_to_institutions_by_l3_year_end_score(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u = world.units
    assert amount(lines, f"institution:{u['甲一'].id}") == 462_509
    assert amount(lines, f"institution:{u['甲二'].id}") == 206_912
    assert amount(lines, f"institution:{u['乙一'].id}") == 330_579
    assert amount(lines, f"institution:{u['丙一'].id}") == 500_000


def test_institutions_split_centre_and_stations_by_the_configured_ratio(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u = world.units
    assert amount(lines, f"split:{u['甲一'].id}:centre") == 277_505  # default 60/40
    assert amount(lines, f"split:{u['甲一'].id}:stations") == 185_004
    assert amount(lines, f"split:{u['丙一'].id}:centre") == 350_000  # own 70/30
    assert amount(lines, f"split:{u['丙一'].id}:stations") == 150_000
    assert lines[f"split:{u['丙一'].id}:stations"]["name"] == "村卫生室部分"


def test_an_institution_without_station_teams_keeps_everything_in_the_centre_part(
    world: Any,
) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    jia2 = world["甲二"].id
    assert amount(lines, f"split:{jia2}:centre") == 206_912
    assert f"split:{jia2}:stations" not in lines


def test_teams_get_their_part_and_the_mean_of_the_quarters_present(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u = world.units
    expected = {
        "T1": 277_505,
        "T2": 185_004,
        "T3": 206_912,
        "T4": 330_579,
        "T5": 350_000,
        "T6": 150_000,
    }
    assert {t: amount(lines, f"team:{u[t].id}") for t in expected} == expected
    scores = {t: lines[f"team:{u[t].id}"]["score"] for t in expected}
    # T2 has Q1 80 and Q3 70 (its Q4 is a draft); T5's 275/3 rounds half-up to 91.67.
    assert scores == {
        "T1": "87.50",
        "T2": "75.00",
        "T3": "88.50",
        "T4": "90.00",
        "T5": "91.67",
        "T6": "80.00",
    }
    t2_line = lines[f"team:{u['T2'].id}"]
    t2 = t2_line["explanation"]
    assert [s["period"] for s in t2["sources"]] == ["2026-Q1", "2026-Q3"]
    assert "steps" not in t2  # written when shown, from the sources and the part's figures
    assert any("2026-Q2、2026-Q4" in step for step in explanation_steps(t2_line, t2))


def test_team_members_share_after_the_reserve_by_k_y_c_a(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u, users = world.units, world.users
    t1 = u["T1"].id
    assert amount(lines, f"reserve:{t1}") == 27_751
    assert amount(lines, f"member:{t1}:{users['T1L'].id}") == 149_107
    assert amount(lines, f"member:{t1}:{users['T1N'].id}") == 100_647
    assert amount(lines, f"member:{t1}:{users['T1P'].id}") == 0  # on probation
    t4 = u["T4"].id
    assert amount(lines, f"reserve:{t4}") == 33_058
    assert amount(lines, f"member:{t4}:{users['T4L'].id}") == 151_796
    assert amount(lines, f"member:{t4}:{users['T4D'].id}") == 145_725


def test_workload_counts_only_the_years_true_records_and_is_capped(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u, users = world.units, world.users
    leader = lines[f"member:{u['T1'].id}:{users['T1L'].id}"]["explanation"]["factors"]
    # The false, disputed and 2025 ones do not count; a consultation is 1 point.
    assert leader["services"] == 10 and leader["points"] == "10" and leader["k"] == "1"
    assert leader["k_source"] == "points"
    nurse = lines[f"member:{u['T1'].id}:{users['T1N'].id}"]["explanation"]["factors"]
    assert (nurse["standard_points"], nurse["k"], nurse["y"], nurse["c"], nurse["a"]) == (
        "8",
        "0.75",
        "1",
        "1.2",
        "0.9",
    )
    assert (nurse["a_source"], nurse["days_due"], nurse["days_worked"]) == ("days", 240, 216)
    capped = lines[f"member:{u['T4'].id}:{users['T4D'].id}"]["explanation"]["factors"]
    assert capped["services"] == 15 and capped["k"] == "1.2"


def test_signed_population_is_counted_at_the_year_end_by_contract_dates(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    u = world.units
    population = {k: lines[f"team:{u[k].id}"]["signed_population"] for k in ("T1", "T2", "T4")}
    # T1's terminated, expired-on-12-30 and starting-next-year contracts are out; T4's contract
    # terminated in January of the next year is in.
    assert population == {"T1": 4, "T2": 2, "T4": 5}
    assert lines[f"county:{u['甲区'].id}"]["signed_population"] == 9


def test_the_current_revision_of_a_published_score_is_used_and_named(world: Any) -> None:
    lines = by_key(preview(YEAR, "settlement")[1])
    source = lines[f"county:{world['甲区'].id}"]["source"]
    revised = world.assessments["L4 甲区"]
    assert source == {
        "level": "L4",
        "period": "2026",
        "assessment_id": revised.id,
        "revision": 2,
        "value": "90.00",
    }


def test_parts_add_up_exactly_at_every_level(world: Any) -> None:
    outputs = preview(YEAR, "settlement")[1]
    parents = assert_parts_sum_exactly(outputs)
    levels = {line["level"] for line in outputs}
    assert levels == {"pool", "county", "institution", "split", "team", "member", "reserve"}
    assert parents == sum(
        1 for line in outputs if line["level"] != "member" and line["level"] != "reserve"
    )


def test_building_stores_every_line_with_its_source(world: Any) -> None:
    settlement, changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert changed and settlement.status == "draft" and settlement.version == 1
    assert settlement.total_fen == 1_500_000
    city = make_user("city-user", "city_admin", world["city"])
    stored = visible_lines(settlement, city)
    assert [line.key for line in stored] == [
        line["key"] for line in json.loads(settlement.outputs_json)
    ]
    county = next(
        line for line in stored if line.unit_id == world["甲区"].id and line.level == "county"
    )
    assert (county.entitled_fen, county.score, county.source_revision) == (
        669_421,
        Decimal("90.00"),
        2,
    )
    assert county.source_assessment_id == world.assessments["L4 甲区"].id


def test_missing_scores_are_listed_in_chinese_and_nothing_is_saved(app: Flask) -> None:
    build_world(scores=False)
    db.session.commit()
    with pytest.raises(SettlementIncomplete) as caught:
        build_settlement(YEAR, "settlement", None)
    missing = caught.value.missing
    assert "县（市、区）「甲区」缺少 2026 年度市级考核（L4）的已公示得分" in missing
    assert "医疗机构「甲一中心」缺少 2026-H2 年终考核（L3）的已公示得分" in missing
    assert "团队「甲一站团队」（甲一中心）缺少 2026 年度季度考核（L2）的已公示得分" in missing
    assert db.session.scalar(select(func.count()).select_from(Settlement)) == 0


def test_missing_configuration_and_ratings_are_listed(app: Flask) -> None:
    build_world(config=False, ratings=False)
    db.session.commit()
    _inputs, missing = gather_inputs(YEAR, "settlement")
    assert "结算池「市区」未配置 2026 年度资金" in missing
    assert "医疗机构「甲一中心」未配置中心/站点拆分比例（也无全市默认比例）" in missing
    assert any(m.startswith("岗位「全科医生」未配置岗位系数 y") for m in missing)
    assert any(m.startswith("岗位「护士」没有 2026 年度标准工作量") for m in missing)
    # Without an institution's choice the leaders are outside the split (seed 4): they need no
    # c, but the institution then needs a management-share rate.
    assert "团队「甲一中心团队」有 1 名成员未录入 2026 年度个人绩效考评系数 c：t1-nurse" in missing
    assert (
        "团队「甲一中心团队」（甲一中心）缺少出勤记录：t1-nurse（2026-01 至 2026-12 中 12 个月）"
        in missing
    )
    assert any(
        m.startswith(
            "医疗机构「甲一中心」的团队负责人不参与团队分配（按文件默认），但未配置负责人统筹比例"
        )
        for m in missing
    )


def test_rerunning_a_draft_with_unchanged_inputs_changes_nothing(world: Any) -> None:
    first, _ = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    digest, outputs, line_ids = first.sha256, first.outputs_json, _line_ids(first)
    again, changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert not changed
    assert (again.id, again.version, again.sha256, again.outputs_json) == (
        first.id,
        1,
        digest,
        outputs,
    )
    assert _line_ids(again) == line_ids


def test_the_hash_is_the_same_when_computed_twice_and_changes_with_an_input(world: Any) -> None:
    digest = preview(YEAR, "settlement")[2]
    assert preview(YEAR, "settlement")[2] == digest
    rating = db.session.scalar(
        select(MemberRating).where(MemberRating.user_id == world.users["T1N"].id)
    )
    rating.c = Decimal("0.8")
    db.session.commit()
    assert preview(YEAR, "settlement")[2] != digest


def test_a_draft_recomputed_after_a_score_revision_gets_new_figures(world: Any) -> None:
    first, _ = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    supersede(world.assessments["L4 乙区"], world["乙区"], "90")
    db.session.commit()
    again, changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert changed and again.id == first.id and again.version == 2
    lines = by_key(json.loads(again.outputs_json))
    # 甲区 810 and 乙区 5 × 90 = 450 of 1260: 642,857.14 and 357,142.86.
    assert amount(lines, f"county:{world['甲区'].id}") == 642_857
    assert amount(lines, f"county:{world['乙区'].id}") == 357_143


def test_the_canonical_json_refuses_floats() -> None:
    with pytest.raises(TypeError):
        canonical_json({"amount": 1.5})
    assert canonical_json({"b": Decimal("1").to_eng_string(), "a": 1}) == '{"a":1,"b":"1"}'


def _line_ids(settlement: Settlement) -> list[int]:
    return list(
        db.session.scalars(
            select(SettlementLine.id)
            .where(SettlementLine.settlement_id == settlement.id)
            .order_by(SettlementLine.id)
        )
    )
