"""Corrections after lock (fdoctor.corrections) on the hand-built city (factories.py).

The 2026 settlement is locked. From ``test_cascade.py``: 乙区 330,579 of 市区's 1,000,000 (甲区
669,421); its one institution 乙一 and its one team T4 get it all; T4's reserve 33,058 and its
members share 297,521 by k × y × c × a: leader T4L 1 × 1.2 × 1.0 × 1 = 1.2 → 151,796; doctor
T4D min(15/10, 1.2) × 1.2 × 0.8 × 1 = 1.152 → 145,725.
"""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from fdoctor.assessments import revisions
from fdoctor.assessments.models import AssessmentItem
from fdoctor.audit.verify import verify
from fdoctor.core import clock
from fdoctor.core.signals import score_revised
from fdoctor.corrections.models import SettlementCorrection, SettlementCorrectionLine
from fdoctor.corrections.services import note_false_record, record_state_at_computation
from fdoctor.corrections.sheet import annexes
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.reports.settlement_sheet import build_settlement_xlsx
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.errors import SettlementStateError
from fdoctor.settlement.models import (
    MemberRating,
    PoolFund,
    SettlementLine,
    WorkloadStandard,
)
from fdoctor.settlement.sheet import sheet_data
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.review import review_record
from tests.conftest import AuthActions
from tests.factories.assessments import make_assessment, supersede
from tests.factories.settlement import NOW, YEAR, World, build_world, make_services, rate
from tests.factories.users import make_user

pytestmark = pytest.mark.db
NEXT = YEAR + 1


def _lock(settlement: Any, city: Any, finance: Any) -> None:
    for action, user in (("review", city), ("approve", finance), ("lock", finance)):
        transition(settlement, action, user)
        db.session.commit()


@pytest.fixture()
def locked(app: Flask) -> tuple[World, Any]:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    world.users["city"], world.users["finance"] = city, finance
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    _lock(settlement, city, finance)
    return world, settlement


def _lines(settlement: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(SettlementLine.key, SettlementLine.entitled_fen, SettlementLine.explanation)
            .where(SettlementLine.settlement_id == settlement.id)
            .order_by(SettlementLine.position)
        )
    ]


def _counted_record(world: World, key: str) -> ServiceRecord:
    user = world.users[key]
    return db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.doctor_id == user.id, ServiceRecord.verification == "unverified")
        .order_by(ServiceRecord.id)
    ).first()


def _find_false(world: World, record: ServiceRecord) -> None:
    """A call says not received (disputed), then the review finds it false: the real service."""
    record.verification = "disputed"
    db.session.commit()
    review_record(record, "false", "回访居民称未接受该服务", world.users["city"])
    db.session.commit()


def _differences(correction: SettlementCorrection) -> dict[str, int]:
    return {line.key: line.difference_fen for line in correction.lines}


def _check_exact(correction: SettlementCorrection) -> None:
    """Every parent's difference is the sum of its children's; the pool's is 0."""
    by_key = {line.key: line.difference_fen for line in correction.lines}
    children: dict[str, int] = {}
    for line in correction.lines:
        if line.parent_key:
            children[line.parent_key] = children.get(line.parent_key, 0) + line.difference_fen
    assert children  # something moved
    for parent, total in children.items():
        assert by_key.get(parent, 0) == total, parent
    assert all(line.level != "pool" for line in correction.lines)


def _configure_next_year(world: World) -> None:
    """2027: the same funds, standards, ratings and scores, and a year of services."""
    u = world.units
    db.session.add_all(
        [
            PoolFund(pool_id=u["市区"].id, year=NEXT, fund_fen=1_000_000, updated_at=NOW),
            PoolFund(pool_id=u["县市"].id, year=NEXT, fund_fen=500_000, updated_at=NOW),
            WorkloadStandard(year=NEXT, post="", standard_points=Decimal(10), updated_at=NOW),
            WorkloadStandard(year=NEXT, post="护士", standard_points=Decimal(8), updated_at=NOW),
        ]
    )
    for key in ("T1L", "T1N", "T2L", "T2N", "T3L", "T4L", "T4D", "T5L", "T5D", "T6L"):
        user = world.users[key]
        rate(user, "1.0", "1", year=NEXT)
        make_services(user, user.org_unit, 10, day=date(NEXT, 3, 1))
    for key in ("甲区", "乙区", "丙县"):
        make_assessment(u[key], "L4", str(NEXT), "90")
    for key in ("甲一", "甲二", "乙一", "丙一"):
        make_assessment(u[key], "L3", f"{NEXT}-H2", "90")
    for key in ("T1", "T2", "T3", "T4", "T5", "T6"):
        make_assessment(u[key], "L2", f"{NEXT}-Q1", "90")
    db.session.commit()


def _build_next(user: Any) -> tuple[Any, bool]:
    with clock.frozen(date(NEXT + 1, 1, 15)):
        sheet, changed = build_settlement(NEXT, "settlement", user)
        db.session.commit()
    return sheet, changed


# --------------------------------------------------------------------------- a record found false


def test_a_false_record_of_a_locked_year_is_a_correction_of_its_team_members(
    locked: tuple[World, Any],
) -> None:
    world, settlement = locked
    before = _lines(settlement)
    record = _counted_record(world, "T4L")
    _find_false(world, record)
    # As the sheet saw it (from the audit trail): unverified, so counted.
    assert record_state_at_computation(record, settlement) == "unverified"
    correction = db.session.scalars(select(SettlementCorrection)).one()
    # T4L 10 → 9 services: k 0.9, weights 1.08 : 1.152 of 297,521 → 143,961.77 and 153,559.23;
    # the floors leave a fen for T4L (.77): 143,962 (−7,834) and 153,559 (+7,834). T4's amount
    # (P × S̄) and its reserve do not move.
    t4, users = world["T4"].id, world.users
    assert _differences(correction) == {
        f"member:{t4}:{users['T4L'].id}": -7_834,
        f"member:{t4}:{users['T4D'].id}": 7_834,
    }
    line = next(line for line in correction.lines if line.difference_fen < 0)
    assert (line.before_fen, line.after_fen) == (151_796, 143_962)
    assert (line.county_id, line.team_id) == (world["乙区"].id, t4)
    assert correction.settlement_id == settlement.id and correction.carried_into_id is None
    assert correction.cause_kind == "record" and "认定虚假" in correction.reason
    assert "回访居民称未接受该服务" in correction.reason
    assert correction.created_by_id == users["city"].id
    assert _lines(settlement) == before  # the locked sheet is untouched


def test_noticing_the_same_false_record_twice_makes_one_correction(
    locked: tuple[World, Any],
) -> None:
    world, _settlement = locked
    record = _counted_record(world, "T4L")
    _find_false(world, record)
    again = note_false_record(record, world.users["city"])
    db.session.commit()
    assert again is not None
    assert db.session.scalar(select(func.count(SettlementCorrection.id))) == 1
    with pytest.raises(SurveyError):
        review_record(record, "false", "再次认定", world.users["city"])
    db.session.rollback()
    assert db.session.scalar(select(func.count(SettlementCorrectionLine.id))) == 2


def test_two_false_records_compound_and_add_up_to_both_at_once(locked: tuple[World, Any]) -> None:
    world, _settlement = locked
    records = db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.doctor_id == world.users["T4L"].id)
        .order_by(ServiceRecord.id)
        .limit(2)
    ).all()
    for record in records:
        _find_false(world, record)
    first, second = db.session.scalars(
        select(SettlementCorrection).order_by(SettlementCorrection.id)
    ).all()
    # 9 → 8 services: k 0.8, weights 0.96 : 1.152 of 297,521 → 135,236.82 and 162,284.18 →
    # 135,237 and 162,284: from 143,962 / 153,559, −8,725 and +8,725; together −16,559 / +16,559.
    leader = f"member:{world['T4'].id}:{world.users['T4L'].id}"
    assert _differences(first)[leader] == -7_834
    assert _differences(second)[leader] == -8_725
    assert next(line for line in second.lines if line.key == leader).before_fen == 143_962


def test_a_record_not_counted_when_the_sheet_was_computed_makes_no_correction(
    app: Flask,
) -> None:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    world.users["city"] = city
    record = _counted_record(world, "T4L")
    record.verification = "disputed"  # disputed before the sheet: not counted (k from 9 records)
    db.session.commit()
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    _lock(settlement, city, finance)
    review_record(record, "false", "回访居民称未接受该服务", city)
    db.session.commit()
    assert db.session.scalar(select(func.count(SettlementCorrection.id))) == 0


# --------------------------------------------------------------------------- an appeal


def test_an_appeal_raising_a_county_score_moves_money_within_the_fixed_pool(
    locked: tuple[World, Any],
) -> None:
    world, settlement = locked
    before = _lines(settlement)
    revision = supersede(world.assessments["L4 乙区"], world["乙区"], "90")
    score_revised.send(revision, user=world.users["city"])
    db.session.commit()
    correction = db.session.scalars(select(SettlementCorrection)).one()
    diffs = _differences(correction)
    u, users = world.units, world.users
    # 乙区 80 → 90: 甲区 810 and 乙区 450 of 1,260 → 642,857.14 / 357,142.86 → 642,857 and
    # 357,143 (test_cascade.py): 乙区 +26,564, 甲区 −26,564; 县市 is another pool: untouched.
    assert diffs[f"county:{u['乙区'].id}"] == 26_564
    assert diffs[f"county:{u['甲区'].id}"] == -26_564
    assert not any(line.county_id == u["丙县"].id for line in correction.lines)
    # T4 357,143: reserve 35,714.3 → 35,714 (+2,656); 321,429 by 1.2 : 1.152 → 163,994.39 and
    # 157,434.61 → 163,994 and 157,435 (the fen to the larger remainder): +12,198 and +11,710.
    t4 = u["T4"].id
    assert diffs[f"team:{t4}"] == 26_564
    assert diffs[f"reserve:{t4}"] == 2_656
    assert diffs[f"member:{t4}:{users['T4L'].id}"] == 12_198
    assert diffs[f"member:{t4}:{users['T4D'].id}"] == 11_710
    # 甲区's side is negative all the way down, and every level adds up exactly.
    assert all(
        line.difference_fen <= 0 for line in correction.lines if line.county_id == u["甲区"].id
    )
    _check_exact(correction)
    assert correction.cause_kind == "assessment" and correction.cause_id == revision.id
    assert "80.00 → 90.00" in correction.reason
    assert _lines(settlement) == before
    # Every correction line is in the audit trail as written.
    result = verify(db.session)
    assert result.ok, result.problems
    # The same revision noticed again: still one correction.
    score_revised.send(revision, user=world.users["city"])
    db.session.commit()
    assert db.session.scalar(select(func.count(SettlementCorrection.id))) == 1


def test_a_revision_of_a_score_the_sheet_did_not_use_makes_no_correction(
    locked: tuple[World, Any],
) -> None:
    world, _settlement = locked
    h1 = make_assessment(world["乙一"], "L3", f"{YEAR}-H1", "70")
    revision = supersede(h1, world["乙一"], "99")
    score_revised.send(revision, user=world.users["city"])
    db.session.commit()
    assert db.session.scalar(select(func.count(SettlementCorrection.id))) == 0


# --------------------------------------------------------------------------- carried forward


def test_the_next_settlement_carries_the_corrections_and_pays_them(
    locked: tuple[World, Any],
) -> None:
    world, settlement = locked
    city = world.users["city"]
    revision = supersede(world.assessments["L4 乙区"], world["乙区"], "90")
    score_revised.send(revision, user=city)
    _find_false(world, _counted_record(world, "T4L"))
    _configure_next_year(world)
    corrections = db.session.scalars(
        select(SettlementCorrection).order_by(SettlementCorrection.id)
    ).all()
    assert len(corrections) == 2

    sheet, changed = _build_next(city)
    assert changed
    carried = json.loads(sheet.inputs_json)["corrections"]
    assert [c["correction_id"] for c in carried] == [c.id for c in corrections]
    for correction in corrections:
        db.session.refresh(correction)
        assert correction.carried_into_id == sheet.id
    # Rebuilding the draft changes nothing: same inputs, same hash, same version.
    again, changed_again = _build_next(city)
    assert (again.id, again.version, changed_again) == (sheet.id, 1, False)

    # The settlement sheet: per county, what 2027 entitles plus the carried adjustment.
    data = sheet_data(sheet, "settlement", city)
    annex = next(a for a in data.annexes if a.sheet_name == "往年更正调整")
    summary = annex.groups[-1].rows
    yi = world["乙区"].id
    entitled = db.session.scalar(
        select(SettlementLine.entitled_fen).where(
            SettlementLine.settlement_id == sheet.id, SettlementLine.key == f"county:{yi}"
        )
    )
    assert ["县（市、区）", "乙区", entitled, 26_564, entitled + 26_564] in summary
    assert sum(row[3] for row in summary) == 0  # a fixed pool: what one county gains, others lose
    # The team sheet: the members' adjustments of both corrections, summed per member. The
    # record was found false after the appeal, so it compounds on the appealed figures: T4 shares
    # 321,429 by 1.08 : 1.152 → 155,530.16 and 165,898.84 → 155,530 and 165,899 (from 163,994 /
    # 157,435): −8,464 and +8,464. T4L: +12,198 − 8,464 = +3,734; T4D: +11,710 + 8,464 = +20,174.
    team = sheet_data(sheet, "team", city)
    rows = next(a for a in team.annexes if a.sheet_name == "往年更正调整").groups[-1].rows
    adjustment = {row[1]: row[3] for row in rows}
    assert adjustment["部门基金（乙一中心团队）"] == 2_656  # a reserve is named with its team
    assert adjustment[world.users["T4L"].display_name] == 3_734
    assert adjustment[world.users["T4D"].display_name] == 20_174
    paid = {row[1]: (row[2], row[4]) for row in rows}
    leader_entitled, leader_paid = paid[world.users["T4L"].display_name]
    assert leader_paid == leader_entitled + 3_734
    assert build_settlement_xlsx(data)[:2] == b"PK"

    # The locked sheet: unchanged, with the annex naming where its corrections went.
    locked_data = sheet_data(settlement, "settlement", city)
    locked_annex = next(a for a in locked_data.annexes if a.sheet_name == "锁定后更正")
    assert f"{NEXT} 年度结算表" in locked_annex.groups[0].title


def test_correction_lines_are_final_in_the_database(locked: tuple[World, Any]) -> None:
    world, _settlement = locked
    _find_false(world, _counted_record(world, "T4L"))
    for sql in (
        "UPDATE settlement_correction_line SET difference_fen = 0",
        "DELETE FROM settlement_correction_line",
        "UPDATE settlement_correction SET reason = 'x'",
        "DELETE FROM settlement_correction",
    ):
        with pytest.raises(DBAPIError):
            db.session.execute(text(sql))
            db.session.flush()
        db.session.rollback()
    assert db.session.scalar(select(func.count(SettlementCorrectionLine.id))) == 2


def test_an_l2_revision_in_a_locked_year_with_ratings_frozen_is_still_noticed(
    locked: tuple[World, Any],
) -> None:
    world, _settlement = locked
    # T1 and T2 share 甲一's two parts; T1's Q2 80 → 100 raises its mean but T1 is alone in the
    # centre part, so nothing moves: no money, but the correction records the fact.
    revision = supersede(world.assessments["L2 T1 Q2"], world["T1"], "100")
    score_revised.send(revision, user=world.users["city"])
    db.session.commit()
    correction = db.session.scalars(select(SettlementCorrection)).one()
    assert correction.lines == []
    assert db.session.scalar(select(func.count(MemberRating.id))) > 0
    assert Decimal("100.00") == Decimal(json.loads(correction.change_json)["score"]["value"])
    group = annexes(_settlement, "settlement", world.users["city"])[0].groups[0]
    assert group.rows == [] and "无金额变化" in group.note


# --------------------------------------------------------------------------- pages and exports


def test_the_locked_sheets_page_and_pdf_show_its_corrections_in_the_users_scope(
    locked: tuple[World, Any], client: FlaskClient, auth: AuthActions
) -> None:
    world, settlement = locked
    county = make_user("county-user", "county_auditor", world["甲区"])
    _find_false(world, _counted_record(world, "T4L"))
    db.session.commit()
    auth.login_as("city-user")
    page = client.get(f"/settlement/{settlement.id}").get_data(as_text=True)
    assert "锁定后更正" in page and "经复核认定虚假" in page and "待结转" in page
    assert world.users["T4L"].display_name in page
    pdf = client.get(f"/settlement/{settlement.id}/export/team.pdf")
    text_of_pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "锁定后更正" in text_of_pdf and "-78.34" in text_of_pdf
    # 甲区's auditor sees neither the correction of 乙区's team nor its doctor's name.
    auth.logout()
    auth.login_as(county.username)
    page = client.get(f"/settlement/{settlement.id}").get_data(as_text=True)
    assert "锁定后更正" not in page
    assert world.users["T4L"].display_name not in page


def _itemised_revision(world: World, key: str, points: str) -> Any:
    """Replace the unit's L3 by a revision with one indicator (the workflow corrects items)."""
    old = world.assessments[f"L3 {key}"]
    new = make_assessment(
        world[key], "L3", old.period, points, status="submitted", revision=2, is_current=False
    )
    new.assessor_unit_id = world[key].county_id
    new.supersedes_id = old.id
    db.session.add(
        AssessmentItem(
            assessment_id=new.id, code="B2", name="合理医疗与质量", dimension="B",
            max_points=Decimal(100), rule="manual", points=Decimal(points), source="manual",
        )
    )  # fmt: skip
    db.session.flush()
    old.is_current, old.status = False, "superseded"
    db.session.flush()
    new.is_current, new.status, new.published_at = True, "published", NOW
    db.session.flush()
    return new


def test_the_workflows_correction_of_an_l3_score_is_noticed_and_moves_money_in_the_county(
    app: Flask,
) -> None:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    auditor = make_user("jia-auditor", "county_auditor", world["甲区"])
    published = _itemised_revision(world, "甲二", "85")
    db.session.commit()
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    _lock(settlement, city, finance)
    before = _lines(settlement)

    revisions.correct(published, auditor, {"B2": ("95", "复核病历后更正")}, "复核更正")
    db.session.commit()
    correction = db.session.scalars(select(SettlementCorrection)).one()
    # 甲二 85 → 95: 甲区's 669,421 by 6 × 95 = 570 and 3 × 95 = 285 → 446,280.67 and 223,140.33
    # → 甲一 446,281 (the fen to .67) and 甲二 223,140: −16,228 and +16,228 (from 462,509 and
    # 206,912). 甲区 itself does not move: its L4 did not change.
    diffs = _differences(correction)
    assert diffs[f"institution:{world['甲一'].id}"] == -16_228
    assert diffs[f"institution:{world['甲二'].id}"] == 16_228
    assert f"county:{world['甲区'].id}" not in diffs
    _check_exact(correction)
    assert correction.created_by_id == auditor.id
    assert "85.00 → 95.00" in correction.reason and "复核更正" in correction.reason
    assert _lines(settlement) == before


def test_a_correction_found_after_the_next_draft_stops_its_review_until_rebuilt(
    locked: tuple[World, Any],
) -> None:
    world, _settlement = locked
    city = world.users["city"]
    _configure_next_year(world)
    sheet, _ = _build_next(city)
    _find_false(world, _counted_record(world, "T4L"))
    with clock.frozen(date(NEXT + 1, 1, 15)):
        with pytest.raises(SettlementStateError, match="重新计算草稿"):
            transition(sheet, "review", city)
        db.session.rollback()
        again, changed = build_settlement(NEXT, "settlement", city)
        db.session.commit()
        assert changed and again.version == 2
        transition(again, "review", city)
        db.session.commit()
    assert db.session.scalars(select(SettlementCorrection)).one().carried_into_id == sheet.id


def test_the_scan_finds_what_no_signal_told_and_runs_again_without_doubling(
    locked: tuple[World, Any], app: Flask
) -> None:
    world, _settlement = locked
    record = _counted_record(world, "T4L")
    record.verification = "false"  # changed without the review: no signal was sent
    db.session.commit()
    assert db.session.scalar(select(func.count(SettlementCorrection.id))) == 0
    runner = app.test_cli_runner()
    first = runner.invoke(args=["corrections", "scan", "--year", str(YEAR)])
    assert first.exit_code == 0 and "经复核认定虚假" in first.output
    second = runner.invoke(args=["corrections", "scan", "--year", str(YEAR)])
    assert second.exit_code == 0
    correction = db.session.scalars(select(SettlementCorrection)).one()
    assert correction.cause_id == record.id and len(correction.lines) == 2
    nothing = runner.invoke(args=["corrections", "scan", "--year", str(YEAR - 1)])
    assert "没有已锁定结算表的更正" in nothing.output
