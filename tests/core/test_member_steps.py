"""A member line's steps (``assessments.cascade.members.member_steps``): a pure function of what
the line keeps (its factors, weight and share), so a sheet need not store them (issue 18), and
word for word the steps the cascade wrote into every member line before.

The team is the one of ``test_cascade_sources`` (one pool of 1,000,000 fen down to one team 甲团队,
reserve 10%, cap 1.2, standard 100 points): 组长 (0 points), 王医生 (100 points, 240 of 264 days),
李医生 (50 points, 3 deduction points). The amounts are worked out there.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from assessments.cascade import AttendanceInput, Line, MemberInput, SettlementInputs, settle
from assessments.cascade.members import member_steps
from assessments.cascade.steps import WRITTEN_WHEN_SHOWN, line_steps
from assessments.money import SettlementInputError
from fdoctor.settlement.cascade import explanation_steps, factors_from_json, factors_json, line_json
from tests.core.test_cascade import city
from tests.core.test_cascade_sources import TEAM, inputs, keyed, member

D = Decimal
POINTS = "（点数 = Σ 各类有效服务记录数 × 该类点数；核实为虚假或有争议的记录不计）"
Y = "y（岗位系数，岗位：全科医生）= 1.2"
C = "c（个人绩效考评系数，团队长录入）= 1"
K_WANG = f"k（工作量达标系数）= min(本年工作量 100 点 ÷ 标准 100 点, 上限 1.2) = 1{POINTS}"
K_LI = f"k（工作量达标系数）= min(本年工作量 50 点 ÷ 标准 100 点, 上限 1.2) = 0.5{POINTS}"
A_WANG = "a（出勤系数）= 实际出勤 240 天 ÷ 应出勤 264 天（12 个月的出勤记录）= 0.9091"
A_LI = "a（出勤系数）= 实际出勤 264 天 ÷ 应出勤 264 天（12 个月的出勤记录）= 1"


def members(settlement: SettlementInputs) -> dict[str, Line]:
    return {k: line for k, line in keyed(settle(settlement)).items() if line.level == "member"}


def test_a_leader_paid_by_management_and_members_with_days_and_deductions() -> None:
    lines = members(inputs(False, "0.05", *TEAM))
    assert line_steps(lines["member:11:1"]) == (
        f"k（工作量达标系数）= min(本年工作量 0 点 ÷ 标准 100 点, 上限 1.2) = 0{POINTS}",
        Y,
        C,
        "a（出勤系数）：本年没有出勤记录，按 1 列示",
        "团队负责人：不参与部门内奖金的分配，由机构的负责人统筹份额按团队考核结果支付"
        "（见机构下的“负责人统筹”行）",
    )
    assert line_steps(lines["member:11:2"]) == (
        K_WANG,
        Y,
        C,
        A_WANG,
        "权重 = k × y × c × a = 1 × 1.2 × 1 × 0.9091 = 1.09092",
        "份额 = 1.09092 ÷ Σ权重 1.69092 = 9091/14091 ≈ 0.64516358",
        "精确金额 = 份额 × 可分配 855,000 分 = ≈551,614.860549 分",
        "按最大余额法取整：551,615 分（5,516.15 元）",
        "舍入调整 = ≈+0.139451 分（精确值 655/4697 分）",
    )
    assert line_steps(lines["member:11:3"]) == (
        K_LI,
        Y,
        C,
        A_LI,
        "权重 = k × y × c × a = 0.5 × 1.2 × 1 × 1 = 0.6",
        "份额 = 0.6 ÷ Σ权重 1.69092 = 5000/14091 ≈ 0.35483642",
        "精确金额 = 份额 × 可分配 855,000 分 = ≈303,385.139451 分",
        "按最大余额法取整：303,385 分（3,033.85 元）",
        "舍入调整 = ≈-0.139451 分（精确值 -655/4697 分）",
        "团队内部考核扣 3 分（1 条记录），每分扣 1%：303,385 × 3% = 9,102 分（四舍五入，最多扣完），"
        "扣款进入部门基金",
        "实发 = 303,385 − 9,102 = 294,283 分（2,942.83 元）",
    )


def test_leave_days_a_point_table_and_a_member_on_probation() -> None:
    leader = replace(
        TEAM[0],
        point_table="甲县点数表",
        attendance=(
            AttendanceInput("2026-01", 22, 15, {"sick": 3, "annual": 4}),
            AttendanceInput("2026-02", 20, 20),
        ),
    )
    nurse = member(4, "试用护士", probation=True, attendance=None, a=None, y=None, c=None,
                   points=D(7), standard_points=None)  # fmt: skip
    lines = members(inputs(True, None, leader, *TEAM[1:], nurse))
    assert line_steps(lines["member:11:1"]) == (
        "k（工作量达标系数）= min(本年工作量 0 点 ÷ 标准 100 点, 上限 1.2) = 0（点数 = Σ "
        "各类有效服务记录数 × 该类点数，点数表：甲县点数表；核实为虚假或有争议的记录不计）",
        Y,
        C,
        "a（出勤系数）= 实际出勤 35 天 ÷ 应出勤 42 天（2 个月的出勤记录）= 0.8333"
        "；请假（不享受奖金）：工休假 4 天、病假 3 天",
        "权重 = k × y × c × a = 0 × 1.2 × 1 × 0.8333 = 0",
        "份额 = 0 ÷ Σ权重 1.69092 = 0 ≈ 0E-8",
        "精确金额 = 份额 × 可分配 900,000 分 = 0 分",
        "按最大余额法取整：0 分（0.00 元）",
        "舍入调整 = 0 分（精确值 0 分）",
    )
    assert line_steps(lines["member:11:4"]) == (
        f"k（工作量达标系数）= min(本年工作量 7 点 ÷ 标准 — 点, 上限 1.2) = 0{POINTS}",
        "y（岗位系数，岗位：全科医生）= 1",
        C,
        "a（出勤系数，团队长录入）= 1",
        "试用期成员：权重为 0，不参与分配（试用期内不享受绩效奖金）",
    )


def test_k_from_records_and_a_typed_in_as_on_the_sheets_before_the_sources() -> None:
    lines = members(city(["90"], ["90"]))
    assert line_steps(lines["member:11:1100"]) == (
        "k（工作量达标系数）= min(本年服务 10 次 ÷ 标准 10 次, 上限 1.2) = 1",
        Y,
        C,
        "a（出勤系数，团队长录入）= 1",
        "权重 = k × y × c × a = 1 × 1.2 × 1 × 1 = 1.2",
        "份额 = 1.2 ÷ Σ权重 1.2 = 1 ≈ 1.00000000",
        "精确金额 = 份额 × 可分配 450,000 分 = 450,000 分",
        "按最大余额法取整：450,000 分（4,500.00 元）",
        "舍入调整 = 0 分（精确值 0 分）",
    )


def test_nothing_to_distribute_and_a_team_without_weights() -> None:
    settlement = inputs(True, None, *TEAM[1:])
    broke = replace(settlement, pools=(replace(settlement.pools[0], fund_fen=0),))
    assert line_steps(members(broke)["member:11:3"]) == (
        K_LI,
        Y,
        C,
        A_LI,
        "权重 = k × y × c × a = 0.5 × 1.2 × 1 × 1 = 0.6",
        "本团队没有可分配金额或没有成员有权重：本人 0 元，全部留在部门基金",
        "团队内部考核扣 3 分（1 条记录），每分扣 1%：0 × 3% = 0 分（四舍五入，最多扣完），"
        "扣款进入部门基金",
        "实发 = 0 − 0 = 0 分（0.00 元）",
    )
    absent = member(5, "零医生", attendance=(AttendanceInput("2026-01", 22, 0),))
    assert line_steps(members(inputs(True, None, absent))["member:11:5"]) == (
        K_WANG,
        Y,
        C,
        "a（出勤系数）= 实际出勤 0 天 ÷ 应出勤 22 天（1 个月的出勤记录）= 0",
        "权重 = k × y × c × a = 1 × 1.2 × 1 × 0 = 0",
        "本团队没有可分配金额或没有成员有权重：本人 0 元，全部留在部门基金",
    )


def test_member_team_leader_and_fund_lines_carry_no_steps_and_their_json_no_steps_key() -> None:
    lines = settle(inputs(False, "0.05", *TEAM))
    assert {"member", "team", "leader", "reserve"} <= {line.level for line in lines}
    for line in lines:
        stored = line_json(line)["explanation"]
        if line.level in WRITTEN_WHEN_SHOWN:
            assert line.explanation.steps == () and "steps" not in stored
            assert line_steps(line)
        else:
            assert stored["steps"] == list(line.explanation.steps) == list(line_steps(line))
        if line.level == "member":
            assert "total_weight" in stored["factors"]


def test_team_leader_and_fund_steps_are_written_as_the_build_wrote_them() -> None:
    """The steps of a team, its leader (outside the split) and its fund, written from what their
    lines keep, are word for word those the build stored before it stopped storing them."""
    lines = {line.key: line for line in settle(inputs(False, "0.05", *TEAM))}
    assert line_steps(lines["team:11"]) == (
        "P（签约人口）= 2 人",
        "季度考核得分（4 个季度：2026-Q1、2026-Q2、2026-Q3、2026-Q4）= 90 + 90 + 90 + 90，"
        "平均 S̄ = 90（按精确值计算份额，不先四舍五入；表中显示 90.00）",
        "P × S = 2 × 90 = 180",
        "份额 = 180 ÷ Σ(P × S) 180 = 1 ≈ 1.00000000",
        "精确金额 = 份额 × 社区卫生服务中心部分 950,000 分 = 950,000 分",
        "按最大余额法取整：950,000 分（9,500.00 元）",
        "舍入调整 = 950,000 − 950,000 = 0 分（精确值 0 分）",
    )
    assert line_steps(lines["leader:11:1"]) == (
        "团队「甲团队」考核结果 S̄ = 90（本年度已公示季度得分的平均，两位小数）",
        "y（岗位系数，岗位：全科医生）= 1.2",
        "权重 = y × S̄ = 1.2 × 90 = 108",
        "份额 = 108 ÷ Σ权重 108 = 1",
        "精确金额 = 份额 × 负责人统筹 50,000 分 = 50,000 分",
        "按最大余额法取整：50,000 分（500.00 元）",
    )
    assert line_steps(lines["reserve:11"]) == (
        "部门基金 = 提取比例 0.1 × 团队应得 950,000 分 = 95,000 分 → 四舍五入 95,000 分",
        "成员扣分扣款合计 91.02 元进入部门基金",
        "部门基金 1,041.02 元 + 成员实发合计 8,458.98 元 = 团队应得 9,500.00 元",
    )


# --------------------------------------------------------------------------- the round trip

y_values = st.sampled_from(["0.8", "1", "1.0", "1.20"]).map(D)
c_values = st.sampled_from(["0.8", "0.85", "1", "1.2"]).map(D)
a_values = st.sampled_from(["0", "0.5", "0.9091", "1", "1.00"]).map(D)
leave = st.dictionaries(st.sampled_from(["sick", "personal", "annual"]), st.integers(0, 3))


@st.composite
def months(draw: st.DrawFn) -> tuple[AttendanceInput, ...]:
    out = []
    for month in range(1, draw(st.integers(0, 12)) + 1):
        due, days_off = draw(st.integers(18, 23)), draw(leave)
        worked = draw(st.integers(0, due - sum(days_off.values())))
        out.append(AttendanceInput(f"2026-{month:02d}", due, worked, days_off))
    return tuple(out)


@st.composite
def a_member(draw: st.DrawFn, i: int) -> MemberInput:
    """A member k from points or records, a from days or typed in, maybe a leader, maybe on
    probation (then also without y, c or any attendance), maybe with deductions."""
    kw: dict[str, object] = {
        "probation": draw(st.booleans()),
        "leader": draw(st.booleans()),
        "post": draw(st.sampled_from(["全科医生", "护士", ""])),
        "services": draw(st.integers(0, 400)),
        "point_table": draw(st.sampled_from(["", "甲县点数表"])),
        "y": draw(y_values),
        "c": draw(c_values),
        "deduction_points": draw(st.sampled_from(["0", "2.5", "150"]).map(D)),
        "deduction_count": draw(st.integers(0, 3)),
    }
    if draw(st.booleans()):
        kw["points"] = draw(st.sampled_from(["0", "12.5", "100", "250.75"]).map(D))
        kw["standard_points"] = D("80.5")
    else:
        kw.update(points=None, standard_points=None, standard=draw(st.sampled_from([120, 300])))
    kw["attendance"] = days = draw(st.none() | months())
    kw["a"] = None if days is not None else draw(a_values)
    if kw["probation"] and draw(st.booleans()):
        kw.update(y=None, c=None, a=None, standard=None, standard_points=None)
    return member(i, f"成员{i}", **kw)


@st.composite
def members_of_a_team(draw: st.DrawFn) -> tuple[MemberInput, ...]:
    return tuple(draw(a_member(i)) for i in range(1, draw(st.integers(1, 5)) + 1))


@given(
    team=members_of_a_team(),
    in_split=st.booleans(),
    fund=st.sampled_from([0, 1, 123_457, 1_000_000]),
    cap=st.sampled_from(["1.2", "1.5"]).map(D),
    reserve=st.sampled_from(["0.10", "0", "1"]).map(D),
)
def test_the_steps_from_the_stored_factors_are_those_of_the_live_line(
    team: tuple[MemberInput, ...], in_split: bool, fund: int, cap: Decimal, reserve: Decimal
) -> None:
    base = inputs(in_split, None if in_split else "0.05", *team)
    settlement = replace(
        base,
        pools=(replace(base.pools[0], fund_fen=fund),),
        parameters=replace(base.parameters, attainment_cap=cap, reserve_rate=reserve),
    )
    try:
        lines = settle(settlement)
    except SettlementInputError:
        assume(False)
        raise
    for line in (line for line in lines if line.level == "member"):
        assert line.explanation.factors is not None and isinstance(line.weight, Decimal)
        live = member_steps(line.explanation.factors, line.weight, line.share or Fraction(0))
        assert line_steps(line) == live
        stored = line_json(line)
        factors = factors_from_json(factors_json(line.explanation.factors))
        assert factors == line.explanation.factors
        assert member_steps(factors, D(stored["weight"]), Fraction(stored["share"])) == live
        steps = explanation_steps(stored, stored["explanation"])
        assert steps == list(live)
    # Every line whose steps are written when shown: none stored, and those written from the
    # stored line (its columns as text, its explanation as JSON) are those of the typed line.
    for line in lines:
        stored = line_json(line)
        if line.level in WRITTEN_WHEN_SHOWN:
            assert "steps" not in stored["explanation"], line.key
            assert line_steps(line), line.key
        assert explanation_steps(stored, stored["explanation"]) == list(line_steps(line)), line.key
