"""The team split from its sources, through the pages: attendance in days (one table a month,
or the institution's spreadsheet), workload points from the tallies, deductions into the team
fund, the leader outside the split, the fund's page; figures worked out by hand below.

    市 → 池 (fund 1,000,000 fen) → 县 (P 4, L4 90) → 中心 (P 4, L3 90), leaders outside the
    split with a 5% management share (set on the leaders page)
    ├─ 一团队 P 3, L2 90 × 4:  张组长 (leader, 全科医生 y 1.2), 王医生 (全科医生 y 1.2),
    │                          李医生 (全科医生 y 1.2), 孙护士 (护士 y 0.8), 周医生 (probation)
    └─ 二团队 P 1, L2 80 × 4:  钱医生, 吴医生 (both on probation)

Workload (standard 100 points a year; home visit 4 points, consultation 1, default table):
王医生 20 home visits (+5 found false, not counted) = 80 points → k 0.8; 李医生 25 home
visits = 100 → k 1; 孙护士 50 consultations = 50 → k 0.5. c = 1 for all.
Attendance, 12 months entered on the attendance page: 王医生 20 of 22 days every month
→ a = 240/264 = 0.9091; 李医生 22/22 → 1; 孙护士 22/22 for January–June and 0 worked with
22 days of maternity leave July–December → a = 132/264 = 0.5. 李医生 has 3 deduction points.

1. The management share: 5% × 1,000,000 = 50,000 fen, all to 张组长 (the only leader).
2. Teams share 950,000 by P × S̄: 一团队 3 × 90 = 270, 二团队 1 × 80 = 80 (Σ 350):
   950,000 × 270/350 = 732,857.14 → 732,857; 950,000 × 80/350 = 217,142.86 → 217,143
   (the leftover fen to the larger remainder).
3. 一团队: fund 10% of 732,857 = 73,285.7 → 73,286; 659,571 shared by k × y × c × a:
   王 0.8 × 1.2 × 1 × 0.9091 = 0.872736, 李 1 × 1.2 × 1 × 1 = 1.2, 孙 0.5 × 0.8 × 1 × 0.5 = 0.2
   (Σ 2.272736): 王 253,276.82, 李 348,252.15, 孙 58,042.03 → floors 659,570, one fen to 王
   (.82): 253,277 / 348,252 / 58,042. 李's 3 points: 3% × 348,252 = 10,447.56 → 10,448 to the
   fund; 李 is paid 337,804. Fund 73,286 + 10,448 = 83,734; paid 253,277 + 337,804 + 58,042 =
   649,123; 83,734 + 649,123 = 732,857. 张组长 and 周医生 get 0 in the team.
4. 二团队 (all on probation): nobody carries weight, all 217,143 stays in its fund.
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
from openpyxl import Workbook
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError

from fdoctor.extensions import db
from fdoctor.org.services import add_unit
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.cascade import compute
from fdoctor.settlement.errors import SettlementIncomplete
from fdoctor.settlement.models import PoolFund, PostCoefficient, SettlementLine, WorkloadStandard
from fdoctor.settlement.sheet import sheet_data
from fdoctor.teamsplit.models import AttendanceRecord, FundAward, LeaderRule, MemberDeduction
from tests.conftest import AuthActions, csrf_token
from tests.factories.assessments import make_assessment
from tests.factories.contracts import signed_household
from tests.factories.settlement import NOW, TERM, YEAR, make_services, rate
from tests.factories.users import make_user

pytestmark = pytest.mark.db
MONTHS = [f"{YEAR}-{m:02d}" for m in range(1, 13)]


def send(client: FlaskClient, username: str, path: str, data: dict[str, Any], **kw: Any) -> Any:
    AuthActions(client).login_as(username)
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)}, **kw)


@pytest.fixture()
def world(app: Flask) -> dict[str, Any]:
    u: dict[str, Any] = {}
    u["city"] = add_unit("Z", "测试市", "city", None)
    u["pool"] = add_unit("Z-P1", "市区", "pool", u["city"])
    u["county"] = add_unit("420001", "甲区", "county", u["pool"], "district")
    u["inst"] = add_unit("420001-01", "甲中心", "institution", u["county"], "community_centre")
    u["T1"] = add_unit("420001-01-T1", "一团队", "team", u["inst"])
    u["T2"] = add_unit("420001-01-T2", "二团队", "team", u["inst"])
    signed_household(u["T1"], 3, *TERM)
    signed_household(u["T2"], 1, *TERM)
    make_assessment(u["county"], "L4", str(YEAR), "90")
    make_assessment(u["inst"], "L3", f"{YEAR}-H2", "90")
    for q in range(1, 5):
        make_assessment(u["T1"], "L2", f"{YEAR}-Q{q}", "90")
        make_assessment(u["T2"], "L2", f"{YEAR}-Q{q}", "80")
    people = {
        "张组长": make_user("zhang", "team_leader", u["T1"], post="全科医生"),
        "王医生": make_user("wang", "doctor", u["T1"], post="全科医生"),
        "李医生": make_user("li", "doctor", u["T1"], post="全科医生"),
        "孙护士": make_user("sun", "doctor", u["T1"], post="护士"),
        "周医生": make_user("zhou", "doctor", u["T1"], post="全科医生", probation=True),
        "钱医生": make_user("qian", "doctor", u["T2"], post="全科医生", probation=True),
        "吴医生": make_user("wu", "doctor", u["T2"], post="护士", probation=True),
    }
    for person in people.values():
        person.display_name = {v.username: k for k, v in people.items()}[person.username]
    make_services(people["王医生"], u["T1"], 20, service_type="home_visit")
    make_services(people["王医生"], u["T1"], 5, service_type="home_visit", verification="false")
    make_services(people["李医生"], u["T1"], 25, service_type="home_visit")
    make_services(people["孙护士"], u["T1"], 50)
    for name in ("张组长", "王医生", "李医生", "孙护士"):
        rate(people[name], "1.0")
    db.session.add_all(
        [
            PoolFund(pool_id=u["pool"].id, year=YEAR, fund_fen=1_000_000, updated_at=NOW),
            PostCoefficient(post="全科医生", coefficient=Decimal("1.2"), updated_at=NOW),
            PostCoefficient(post="护士", coefficient=Decimal("0.8"), updated_at=NOW),
            WorkloadStandard(year=YEAR, post="", standard_points=Decimal(100), updated_at=NOW),
        ]
    )
    u["centre"] = make_user("centre", "centre_admin", u["inst"])
    u["county_user"] = make_user("county", "county_auditor", u["county"])
    u["city_user"] = make_user("city", "city_admin", u["city"])
    u["finance"] = make_user("finance", "finance", u["city"])
    u["people"] = people
    db.session.commit()
    return u


def _days(person: Any, due: int, worked: int, **leave: int) -> dict[str, Any]:
    row = {f"days_due_{person.id}": due, f"days_worked_{person.id}": worked}
    row.update({f"{column}_{person.id}": n for column, n in leave.items()})
    return row


def enter_the_year(client: FlaskClient, world: dict[str, Any]) -> None:
    """The centre enters every month of the year in the one table (one request a month)."""
    p = world["people"]
    AuthActions(client).login_as("centre")
    for n, month in enumerate(MONTHS):
        path = f"/teamsplit/attendance?month={month}"
        data: dict[str, Any] = {"month": month, "csrf_token": csrf_token(client, path)}
        data.update(_days(p["张组长"], 22, 22))
        data.update(_days(p["王医生"], 22, 20))
        data.update(_days(p["李医生"], 22, 22))
        if n < 6:
            data.update(_days(p["孙护士"], 22, 22))
        else:
            data.update(_days(p["孙护士"], 22, 0, maternity_days=22))
        response = client.post(path, data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def set_up(client: FlaskClient, world: dict[str, Any]) -> None:
    enter_the_year(client, world)
    response = send(client, "centre", "/teamsplit/leaders", {"mode": "management", "rate": "5"})
    assert response.status_code == 302
    li = world["people"]["李医生"]
    response = send(client, "zhang", f"/teamsplit/deductions?year={YEAR}", {
        "user_id": li.id, "points": "3", "reason": "随访记录不完整", "decided_by": "二次分配工作小组",
        "decided_on": f"{YEAR}-11-20",
    })  # fmt: skip
    assert response.status_code == 302


def lines_by_name(settlement: Any) -> dict[str, dict[str, Any]]:
    return {f"{line['level']}:{line['name']}": line for line in json.loads(settlement.outputs_json)}


def test_the_team_split_from_attendance_points_deductions_and_the_leader_rule(
    world: dict[str, Any], client: FlaskClient
) -> None:
    set_up(client, world)
    settlement, _ = build_settlement(YEAR, "settlement", world["city_user"])
    db.session.commit()
    lines = lines_by_name(settlement)
    assert lines["management:负责人统筹"]["entitled_fen"] == 50_000
    assert lines["leader:张组长"]["entitled_fen"] == 50_000
    assert lines["team:一团队"]["entitled_fen"] == 732_857
    assert lines["team:二团队"]["entitled_fen"] == 217_143

    def factors(name: str) -> dict[str, Any]:
        return lines[f"member:{name}"]["explanation"]["factors"]

    wang, li, sun = factors("王医生"), factors("李医生"), factors("孙护士")
    # The 20/22-day month, every month: a = 240/264; 5 false home visits are not counted.
    assert (wang["a_source"], wang["days_worked"], wang["days_due"], wang["a"]) == (
        "days", 240, 264, "0.9091",
    )  # fmt: skip
    assert (wang["k_source"], wang["services"], wang["points"], wang["k"]) == (
        "points", 20, "80", "0.8",
    )  # fmt: skip
    assert (wang["gross_fen"], wang["deducted_fen"], wang["amount_fen"]) == (253_277, 0, 253_277)
    # 3 deduction points: 3% of 348,252 fen.
    assert (li["gross_fen"], li["deduction_points"], li["deducted_fen"], li["amount_fen"]) == (
        348_252, "3", 10_448, 337_804,
    )  # fmt: skip
    assert lines["member:李医生"]["entitled_fen"] == 337_804
    # Maternity leave: half the year's days, none of them earning.
    assert (sun["a"], sun["days_worked"], sun["leave_days"], sun["amount_fen"]) == (
        "0.5", 132, {"maternity": 132}, 58_042,
    )  # fmt: skip
    # The leader outside the split: 0 in the team, paid on the management share's line.
    zhang = factors("张组长")
    assert (zhang["leader"], zhang["in_split"], zhang["paid_by_management"]) == (True, False, True)
    assert lines["member:张组长"]["entitled_fen"] == 0
    assert factors("周医生")["probation"] and lines["member:周医生"]["entitled_fen"] == 0
    # The funds: 一团队 keeps its 10% and the deduction; 二团队 (all on probation) keeps all.
    reserves = {
        line["team_id"]: line
        for line in json.loads(settlement.outputs_json)
        if line["level"] == "reserve"
    }
    fund1 = reserves[world["T1"].id]
    assert fund1["entitled_fen"] == 83_734
    assert (fund1["explanation"]["figures"]["deducted_fen"]) == 10_448
    fund2 = reserves[world["T2"].id]
    assert fund2["entitled_fen"] == 217_143
    assert fund2["explanation"]["figures"]["undistributed_fen"] == 195_429
    members = [
        line
        for line in json.loads(settlement.outputs_json)
        if line["level"] == "member" and line["team_id"] == world["T1"].id
    ]
    assert sum(m["entitled_fen"] for m in members) + fund1["entitled_fen"] == 732_857
    # The team's sheet shows the sources, the deduction and the rule.
    data = sheet_data(settlement, "team", world["city_user"])
    group = next(g for g in data.groups if g.title.startswith("一团队"))
    row = next(r for r in group.rows if r[0] == "李医生")
    assert (row[6], row[10], row[11], row[12], row[13]) == ("264/264", 348_252, Decimal(3),
                                                            10_448, 337_804)  # fmt: skip
    assert "团队负责人不参与团队分配" in group.note
    inputs = "\n".join(str(r[-1]) for r in data.input_rows)
    assert "产假 132 天" in inputs and "工作量 80 点 / 标准 100 点" in inputs


def _members_in(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for p in inputs["pools"]
        for c in p["counties"]
        for i in c["institutions"]
        for t in i["teams"]
        for m in t["members"]
    ]


def test_attendance_enters_the_inputs_summed_and_monthly_inputs_still_compute_the_same(
    world: dict[str, Any], client: FlaskClient
) -> None:
    """The sheet's inputs hold each member's days summed over the year's months (read grouped
    by the database); a sheet gathered before that, with the monthly records, computes the
    same lines."""
    set_up(client, world)
    settlement, _ = build_settlement(YEAR, "settlement", world["city_user"])
    inputs = json.loads(settlement.inputs_json)
    members = {m["name"]: m for m in _members_in(inputs)}
    assert members["王医生"]["attendance_totals"] == {
        "months": 12, "days_due": 264, "days_worked": 240, "leave_days": {},
    }  # fmt: skip
    assert members["孙护士"]["attendance_totals"] == {
        "months": 12, "days_due": 264, "days_worked": 132, "leave_days": {"maternity": 132},
    }  # fmt: skip
    assert "attendance" not in members["王医生"]
    # The same inputs as an earlier sheet held them: every month's record, in month order.
    for m in _members_in(inputs):
        m.pop("attendance_totals")
        m["attendance"] = [
            {
                "month": r.month,
                "days_due": r.days_due,
                "days_worked": r.days_worked,
                "leave_days": {k: n for k, n in r.leave_days().items() if n},
            }
            for r in db.session.scalars(
                select(AttendanceRecord)
                .where(AttendanceRecord.user_id == m["user_id"])
                .order_by(AttendanceRecord.month)
            )
        ]
    assert len(members["王医生"]["attendance"]) == 12
    assert compute(inputs) == json.loads(settlement.outputs_json)


def test_the_leader_in_the_split_when_the_institution_chooses_it(
    world: dict[str, Any], client: FlaskClient
) -> None:
    set_up(client, world)
    assert send(client, "centre", "/teamsplit/leaders", {"mode": "in_split"}).status_code == 302
    settlement, _ = build_settlement(YEAR, "settlement", world["city_user"])
    lines = lines_by_name(settlement)
    assert "management:负责人统筹" not in lines
    # 张组长 has no workload: k 0, so a weight of 0 but a member of the split.
    zhang = lines["member:张组长"]["explanation"]["factors"]
    assert (zhang["in_split"], zhang["paid_by_management"]) == (True, False)
    assert lines["team:一团队"]["entitled_fen"] == 771_429  # 1,000,000 × 270/350, rounded


def test_a_missing_month_of_attendance_is_reported_and_nothing_is_computed(
    world: dict[str, Any], client: FlaskClient
) -> None:
    set_up(client, world)
    db.session.execute(
        delete(AttendanceRecord).where(
            AttendanceRecord.user_id == world["people"]["王医生"].id,
            AttendanceRecord.month == f"{YEAR}-03",
        )
    )
    db.session.commit()
    with pytest.raises(SettlementIncomplete) as caught:
        build_settlement(YEAR, "settlement", world["city_user"])
    assert "团队「一团队」（甲中心）缺少出勤记录：王医生（2026-03）" in caught.value.missing


def test_without_a_choice_the_leader_is_outside_and_the_rate_is_asked_for(
    world: dict[str, Any], client: FlaskClient
) -> None:
    enter_the_year(client, world)
    with pytest.raises(SettlementIncomplete) as caught:
        build_settlement(YEAR, "settlement", world["city_user"])
    assert any("未配置负责人统筹比例（涉及：张组长）" in m for m in caught.value.missing)


def test_the_attendance_table_is_checked_per_row_and_saved_whole(
    world: dict[str, Any], client: FlaskClient
) -> None:
    p = world["people"]
    month = f"{YEAR}-05"
    data = {"month": month, **_days(p["王医生"], 22, 20), **_days(p["李医生"], 22, 20, sick_days=3)}
    data[f"days_due_{p['孙护士'].id}"] = "二十"
    response = send(client, "centre", f"/teamsplit/attendance?month={month}", data)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "「李医生」的实际出勤天数（20）与请假天数（3）之和不能多于应出勤天数（22）" in text
    assert "「孙护士」的应出勤天数必须是不小于 0 的整数天：二十" in text
    assert db.session.scalar(select(func.count()).select_from(AttendanceRecord)) == 0


def test_the_institutions_spreadsheet_is_imported(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    month = f"{YEAR}-07"

    def sheet(rows: list[list[Any]]) -> tuple[io.BytesIO, str]:
        wb = Workbook()
        ws = wb.active
        ws.append(["用户名", "姓名", "应出勤天数", "实际出勤天数", "病假天数", "产假天数"])
        for row in rows:
            ws.append(row)
        body = io.BytesIO()
        wb.save(body)
        body.seek(0)
        return body, "出勤.xlsx"

    bad = sheet([["wang", "", 22, 20, 0, 0], ["", "孙护士", 22, 0, 0, 23]])
    auth.login_as("centre")
    path = "/teamsplit/attendance/import"
    token = csrf_token(client, f"/teamsplit/attendance?month={month}")
    response = client.post(path, data={"month": month, "file": bad, "csrf_token": token},
                           content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "第 3 行「孙护士」的实际出勤天数（0）与请假天数（23）之和不能多于应出勤天数（22）" in (
        response.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count()).select_from(AttendanceRecord)) == 0
    good = sheet([["wang", "", 22, 20, 2, ""], ["", "孙护士", 22, 0, "", 22]])
    token = csrf_token(client, f"/teamsplit/attendance?month={month}")
    response = client.post(path, data={"month": month, "file": good, "csrf_token": token},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    records = {
        r.user_id: (r.days_due, r.days_worked, r.sick_days, r.maternity_days, r.team_id)
        for r in db.session.scalars(select(AttendanceRecord))
    }
    p, t1 = world["people"], world["T1"].id
    assert records == {p["王医生"].id: (22, 20, 2, 0, t1), p["孙护士"].id: (22, 0, 0, 22, t1)}


def test_the_county_adapts_the_point_table(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    set_up(client, world)
    response = send(client, "county", "/teamsplit/points", {"points_home_visit": "5"})
    assert response.status_code == 302
    refused = send(client, "county", "/teamsplit/points", {"points_consultation": "-1"})
    assert refused.status_code == 422
    assert "「门诊/咨询」的点数必须在 0 到 1000 之间：-1" in refused.get_data(as_text=True)
    settlement, _ = build_settlement(YEAR, "settlement", world["city_user"])
    db.session.commit()
    wang = lines_by_name(settlement)["member:王医生"]["explanation"]["factors"]
    # 20 home visits × 5 points = 100 points = the standard: k = 1.
    assert (wang["points"], wang["k"], wang["point_table"]) == ("100", "1", "甲区工作量点数表")
    # A centre reads the table and cannot change it.
    auth.login_as("centre")
    assert "甲区 · 工作量点数表" in client.get("/teamsplit/points").get_data(as_text=True)
    assert client.post("/teamsplit/points", data={}).status_code in (400, 403)


def test_a_deduction_needs_a_reason_and_who_decided(
    world: dict[str, Any], client: FlaskClient
) -> None:
    wang = world["people"]["王医生"]
    response = send(client, "zhang", f"/teamsplit/deductions?year={YEAR}",
                    {"user_id": wang.id, "points": "0", "reason": "", "decided_by": "",
                     "decided_on": f"{YEAR}-11-20"})  # fmt: skip
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "扣分必须大于 0、不超过 100：0" in text and "请填写扣分原因" in text
    assert "请填写决定人（或小组）" in text
    other = world["people"]["钱医生"]
    response = send(client, "zhang", f"/teamsplit/deductions?year={YEAR}",
                    {"user_id": other.id, "points": "1", "reason": "x", "decided_by": "y",
                     "decided_on": f"{YEAR}-11-20"})  # fmt: skip
    assert "该成员不属于本团队" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(MemberDeduction)) == 0


def test_the_fund_and_its_awards_are_visible_to_the_team(
    world: dict[str, Any], client: FlaskClient, auth: AuthActions
) -> None:
    set_up(client, world)
    settlement, _ = build_settlement(YEAR, "settlement", world["city_user"])
    transition(settlement, "review", world["city_user"])
    transition(settlement, "approve", world["finance"])
    transition(settlement, "lock", world["finance"])
    db.session.commit()
    wang = world["people"]["王医生"]
    too_much = send(client, "zhang", "/teamsplit/fund", {
        "user_id": wang.id, "kind": "skill", "amount": "837.35", "reason": "技能竞赛第一名",
        "awarded_on": "2027-01-10",
    })  # fmt: skip
    assert too_much.status_code == 422
    assert "部门基金余额不足：余额 837.34 元" in too_much.get_data(as_text=True)
    response = send(client, "zhang", "/teamsplit/fund", {
        "user_id": wang.id, "kind": "skill", "amount": "300", "reason": "技能竞赛第一名",
        "awarded_on": "2027-01-10",
    })  # fmt: skip
    assert response.status_code == 302
    award = db.session.scalar(select(FundAward))
    assert (award.amount_fen, award.kind_label, award.team_id) == (
        30_000,
        "技能优胜奖",
        world["T1"].id,
    )
    # Any member of the team sees the balance and every award; a doctor cannot award.
    auth.login_as("sun")
    page = client.get("/teamsplit/fund").get_data(as_text=True)
    assert "537.34 元" in page and "技能竞赛第一名" in page and "王医生" in page
    assert "记录奖励" not in page
    assert client.post("/teamsplit/fund", data={}).status_code in (400, 403)
    # The locked year's attendance and deductions: the page refuses, and so does the database.
    refused = send(client, "centre", f"/teamsplit/attendance?month={YEAR}-03",
                   {"month": f"{YEAR}-03", **_days(wang, 22, 22)})  # fmt: skip
    assert refused.status_code == 422
    assert "2026 年度结算表已锁定，出勤记录不能再修改" in refused.get_data(as_text=True)
    record = db.session.scalar(select(AttendanceRecord).where(AttendanceRecord.user_id == wang.id))
    record.days_worked = 22
    with pytest.raises(DBAPIError, match="出勤记录不能修改"):
        db.session.flush()
    db.session.rollback()
    deduction = db.session.scalar(select(MemberDeduction))
    db.session.delete(deduction)
    with pytest.raises(DBAPIError, match="扣分记录不能修改"):
        db.session.flush()
    db.session.rollback()


def test_new_source_tables_are_audited(world: dict[str, Any], client: FlaskClient) -> None:
    from fdoctor.audit.models import AuditEntry

    set_up(client, world)
    tables = set(db.session.scalars(select(AuditEntry.table_name)))
    assert {"attendance_record", "leader_rule", "member_deduction"} <= tables
    assert db.session.scalar(select(LeaderRule.management_rate)) == Decimal("0.05")
    assert db.session.scalar(select(func.count()).select_from(SettlementLine)) == 0
    assert date(YEAR, 11, 20) == db.session.scalar(select(MemberDeduction.decided_on))
