"""Exact means through the app: the published L2 totals are read, their mean weighs the team.

The rule of the sheet: each published assessment's total (two decimals, as published) is an
input; means of published scores and all weights stay exact through the cascade; only what is
shown is rounded. A small city: one pool of 1,000,000 fen, one county (L4 90), one community
centre (L3 90) with two centre teams A and B of 2 signed residents each, one member each
(全科医生 y 1.2, 10 of 10 services, c 1.0, a 1), reserve 10%. Pool, county and institution each
have a single unit, so the centre part, shared by A and B, gets the whole 1,000,000 fen.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader

from fdoctor.extensions import db
from fdoctor.org.services import add_unit
from fdoctor.reports import settlement_sheet as rs
from fdoctor.settlement.build import build_settlement, preview
from fdoctor.settlement.models import PoolFund, PostCoefficient, SettlementLine, WorkloadStandard
from fdoctor.settlement.sheet import sheet_data
from fdoctor.teamsplit.models import LeaderRule
from tests.factories.assessments import make_assessment
from tests.factories.contracts import signed_household
from tests.factories.settlement import TERM, YEAR, make_services, rate
from tests.factories.users import make_user

pytestmark = pytest.mark.db
NOW = datetime(YEAR + 1, 2, 25, 9, 0)


def small_city(a_scores: list[str], b_scores: list[str]) -> dict[str, Any]:
    city = add_unit("X", "测试市", "city", None)
    pool = add_unit("X-P1", "市区", "pool", city)
    county = add_unit("419001", "甲区", "county", pool, "district")
    inst = add_unit("419001-01", "甲中心", "institution", county, "community_centre")
    teams = {
        "A": add_unit("419001-01-T1", "甲团队", "team", inst),
        "B": add_unit("419001-01-T2", "乙团队", "team", inst),
    }
    make_assessment(county, "L4", str(YEAR), "90.00")
    make_assessment(inst, "L3", f"{YEAR}-H2", "90.00")
    for key, scores in (("A", a_scores), ("B", b_scores)):
        signed_household(teams[key], 2, *TERM)
        doctor = make_user(f"doctor-{key.lower()}", "team_leader", teams[key], post="全科医生")
        make_services(doctor, teams[key], 10)
        rate(doctor, "1.0", "1")
        for quarter, total in enumerate(scores, start=1):
            make_assessment(teams[key], "L2", f"{YEAR}-Q{quarter}", total)
    db.session.add_all(
        [
            PoolFund(pool_id=pool.id, year=YEAR, fund_fen=1_000_000, updated_at=NOW),
            PostCoefficient(post="全科医生", coefficient=Decimal("1.2"), updated_at=NOW),
            WorkloadStandard(year=YEAR, post="", standard_points=Decimal(10), updated_at=NOW),
            # Each team's only member leads it: keep leaders in the split, as these figures do.
            LeaderRule(institution_id=inst.id, leaders_in_split=True, updated_at=NOW),
        ]
    )
    db.session.commit()
    teams["city"] = city
    return teams


def team_lines(teams: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lines = {line["key"]: line for line in preview(YEAR, "settlement")[1]}
    return {key: lines[f"team:{teams[key].id}"] for key in ("A", "B")}


def test_the_exact_mean_weighs_the_share_to_the_fen(app: Flask) -> None:
    # A: (85.00 + 85.01) ÷ 2 = 85.005 exactly (shown 85.01); B: 85.00.
    # Weights 2 × 85.005 = 170.01 and 2 × 85 = 170, i.e. 17001 : 17000 of 1,000,000 fen:
    #   A = 500,014.7054…, B = 499,985.2945…; floors 999,999, the leftover fen to A → 500,015.
    # Rounding the mean first (85.01) would have given A 500,029 and B 499,971 (14 fen moved).
    teams = small_city(["85.00", "85.01"], ["85.00"])
    lines = team_lines(teams)
    assert (lines["A"]["entitled_fen"], lines["B"]["entitled_fen"]) == (500_015, 499_985)
    assert lines["A"]["score"] == "85.01" and lines["A"]["weight"] == "170.01"
    assert lines["A"]["exact_fen"] == "17001000000/34001"
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    stored = _stored_line(settlement.id, f"team:{teams['A'].id}")
    assert stored.score == Decimal("85.01") and stored.weight == "170.01"
    assert stored.entitled_fen == 500_015


def test_when_the_mean_has_two_places_both_rules_agree(app: Flask) -> None:
    # A: (85.00 + 85.02) ÷ 2 = 85.01 exactly, so rounding it changes nothing: 8501 : 8500 →
    #   A 500,029.41…, B 499,970.58…; floors 999,999, the leftover fen to B → A 500,029, B 499,971.
    teams = small_city(["85.00", "85.02"], ["85.00"])
    lines = team_lines(teams)
    assert (lines["A"]["entitled_fen"], lines["B"]["entitled_fen"]) == (500_029, 499_971)
    assert lines["A"]["score"] == "85.01" and lines["A"]["weight"] == "170.02"


def _stored_line(settlement_id: int, key: str) -> SettlementLine:
    return db.session.scalars(
        db.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement_id, SettlementLine.key == key
        )
    ).one()


def test_the_settlement_sheet_states_the_rule_in_its_notes(app: Flask) -> None:
    teams = small_city(["85.00", "85.01"], ["85.00"])
    city_user = make_user("city-user", "city_admin", teams["city"])
    settlement, _changed = build_settlement(YEAR, "settlement", city_user)
    db.session.commit()
    data = sheet_data(settlement, "settlement", city_user)
    assert rs.SCORE_RULE_NOTE in data.notes
    ws = load_workbook(io.BytesIO(rs.build_settlement_xlsx(data)))["结算表"]
    assert rs.SCORE_RULE_NOTE in [row[0] for row in ws.iter_rows(values_only=True)]
    pdf = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(rs.build_settlement_pdf(data))).pages
    )
    assert "不先四舍五入" in pdf.replace("\n", "")
