"""The second distribution from its sources: attendance, workload points, deductions, leaders."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assessments.attendance import (
    LEAVE_KINDS,
    AttendanceMonth,
    AttendanceTotals,
    attendance,
    attendance_from_days,
    attendance_from_totals,
)
from assessments.distribution import (
    DistributionMember,
    LeaderInput,
    deduction_fen,
    distribute_members,
    management_share,
)
from assessments.money import SettlementInputError
from assessments.settlement import MemberInput, PoolInput, UnitInput, distribute_team, settle_pools
from assessments.workload import (
    DEFAULT_POINT_TABLE,
    adapt_point_table,
    attainment_from_points,
    workload_points,
)

# --------------------------------------------------------------------------- factories


def member(name="甲", k=1, y=1, c=1, a=1, probation=False, leader=False, points=0):
    return DistributionMember(
        name=name,
        k=k,
        y=y,
        c=c,
        a=a,
        probation=probation,
        leader=leader,
        deduction_points=points,
    )


def amounts(team):
    return {line.name: line.amount_fen for line in team.members}


def month(due=22, worked=22, label="2026-03", **leave):
    return AttendanceMonth(month=label, days_due=due, days_worked=worked, leave_days=leave)


# --------------------------------------------------------------------------- attendance


def test_twenty_of_twenty_two_days_gives_a_of_0_9091():
    """20 / 22 = 0.909090…, half-up to 4 places: 0.9091."""
    assert attendance_from_days(20, 22) == Decimal("0.9091")


def test_a_twenty_of_twenty_two_day_month_shares_the_team_amount():
    """10000 fen, reserve 10% = 1000; weights 1 and 0.9091 (total 1.9091) share 9000.

    Exact: 9000 × 1 / 1.9091 = 4714.263…, 9000 × 0.9091 / 1.9091 = 4285.736…; the floors
    4714 + 4285 = 8999 leave 1 fen, which goes to the larger remainder (.736, 乙).
    """
    team = distribute_members(10000, [member("甲"), member("乙", a=attendance_from_days(20, 22))])
    assert (team.reserve_fen, amounts(team)) == (1000, {"甲": 4714, "乙": 4286})


def test_attendance_over_a_period_is_the_sum_of_the_days_of_its_months():
    """(20 + 18) / (22 + 20) = 38 / 42 = 0.904761…, half-up 0.9048."""
    result = attendance([month(22, 20, "2026-01"), month(20, 18, "2026-02")])
    assert (result.days_due, result.days_worked, result.exact, result.a) == (
        42,
        38,
        Fraction(19, 21),
        Decimal("0.9048"),
    )


def test_a_month_on_maternity_leave_earns_nothing():
    """22 days due, 0 worked, 22 on maternity leave: a = 0 / 22 = 0."""
    assert attendance([month(22, 0, maternity=22)]).a == Decimal("0")


@pytest.mark.parametrize("kind", ["sick", "personal", "maternity", "annual", "marriage"])
def test_no_kind_of_leave_counts_as_days_worked(kind):
    """Seed 4: 病假、事假、产假、工休假、婚假不享受奖金 — 20 worked + 2 on leave of 22: 0.9091."""
    assert attendance([month(22, 20, **{kind: 2})]).a == Decimal("0.9091")


def test_leave_days_are_summed_by_kind_over_the_period():
    result = attendance(
        [month(22, 12, "2026-01", maternity=10), month(20, 0, "2026-02", maternity=20)]
    )
    assert dict(result.leave_days) == {"maternity": 30}


def test_a_member_on_maternity_leave_for_part_of_the_month_gets_her_days_worth():
    """12 worked of 22 (10 days maternity leave): a = 12/22 = 0.545454… → 0.5455.

    10000 fen, reserve 1000; weights 1 and 0.5455 (total 1.5455) share 9000: exact 5823.358…
    and 3176.641…; floors 8999, the leftover fen goes to the larger remainder (.641, 丙).
    """
    a = attendance([month(22, 12, maternity=10)], member="丙").a
    team = distribute_members(10000, [member("甲"), member("丙", a=a)])
    assert (a, amounts(team)) == (Decimal("0.5455"), {"甲": 5823, "丙": 3177})


def test_days_worked_and_on_leave_beyond_the_days_due_are_an_error():
    with pytest.raises(SettlementInputError, match="之和不能多于应出勤天数（22）"):
        attendance([month(22, 20, sick=3)], member="甲")


def test_an_unknown_kind_of_leave_is_an_error():
    with pytest.raises(SettlementInputError, match="请假类别「holiday」未知"):
        attendance([month(22, 20, holiday=2)])


def test_the_same_month_twice_is_an_error():
    with pytest.raises(SettlementInputError, match="2026-03 出勤记录重复"):
        attendance([month(), month()], member="甲")


def test_no_attendance_record_is_an_error_not_zero():
    with pytest.raises(SettlementInputError, match="成员「甲」没有出勤记录"):
        attendance([], member="甲")


def test_more_days_worked_than_due_is_an_error():
    with pytest.raises(SettlementInputError, match="实际出勤天数（23）不能多于应出勤天数（22）"):
        attendance_from_days(23, 22, member="甲")


def test_half_a_day_is_an_error():
    with pytest.raises(SettlementInputError, match="必须是整数天"):
        attendance_from_days(Decimal("20.5"), 22)


def test_a_period_with_no_day_due_gives_zero():
    assert attendance_from_days(0, 0) == Decimal("0")


def _summed(months: list[AttendanceMonth]) -> AttendanceTotals:
    leave: dict[str, int] = {}
    for m in months:
        for kind, days in m.leave_days.items():
            leave[kind] = leave.get(kind, 0) + days
    return AttendanceTotals(
        months=len(months),
        days_due=sum(m.days_due for m in months),
        days_worked=sum(m.days_worked for m in months),
        leave_days={kind: days for kind, days in leave.items() if days},
    )


@st.composite
def _months(draw: st.DrawFn) -> list[AttendanceMonth]:
    out = []
    for n in range(draw(st.integers(1, 12))):
        due = draw(st.integers(0, 31))
        worked = draw(st.integers(0, due))
        kind = draw(st.sampled_from(sorted(LEAVE_KINDS)))
        leave = draw(st.integers(0, due - worked))
        out.append(month(due, worked, f"2026-{n + 1:02d}", **({kind: leave} if leave else {})))
    return out


@given(_months())
def test_attendance_from_the_sums_of_its_months_is_attendance_over_the_months(months):
    """The settlement reads each member's days summed by the database: the same a, days and
    leave as the monthly records give one by one."""
    by_month, by_sums = (
        attendance(months, member="甲"),
        attendance_from_totals(_summed(months), member="甲"),
    )
    assert by_sums == by_month
    assert by_sums.months == len(months)


def test_attendance_sums_are_checked_like_a_month():
    with pytest.raises(SettlementInputError, match="成员「甲」没有出勤记录"):
        attendance_from_totals(AttendanceTotals(0, 0, 0), member="甲")
    with pytest.raises(SettlementInputError, match="之和不能多于应出勤天数（240）"):
        attendance_from_totals(AttendanceTotals(12, 240, 230, {"sick": 11}), member="甲")
    with pytest.raises(SettlementInputError, match="请假类别「holiday」未知"):
        attendance_from_totals(AttendanceTotals(12, 240, 230, {"holiday": 1}), member="甲")
    with pytest.raises(SettlementInputError, match="不能为负数"):
        attendance_from_totals(AttendanceTotals(12, 240, -1), member="甲")


# --------------------------------------------------------------------------- workload points


def test_a_home_visit_is_worth_more_than_a_consultation():
    points = DEFAULT_POINT_TABLE.points
    assert points["home_visit"] > points["consultation"]


def test_the_default_table_prices_every_service_type_of_the_app():
    from fdoctor.records.models import SERVICE_TYPES

    assert set(DEFAULT_POINT_TABLE.points) == set(SERVICE_TYPES)


def test_workload_points_sum_the_counts_times_the_points():
    """10 home visits × 4 + 30 consultations × 1 = 70 points."""
    assert workload_points({"home_visit": 10, "consultation": 30}) == Decimal("70")


def test_k_from_points_is_points_over_the_standard():
    """70 / 80 = 0.875."""
    assert attainment_from_points(70, 80) == Decimal("0.875")


def test_k_from_points_is_capped():
    """120 / 80 = 1.5, capped at 1.2."""
    assert attainment_from_points(120, 80, Decimal("1.2")) == Decimal("1.2")


def test_a_county_adapts_the_points_of_a_type():
    """Consultations at 0.5: 10 × 4 + 30 × 0.5 = 55 points."""
    table = adapt_point_table(
        DEFAULT_POINT_TABLE, {"consultation": Decimal("0.5")}, code="xuchang", name="许昌表"
    )
    assert workload_points({"home_visit": 10, "consultation": 30}, table) == Decimal("55")


def test_adapting_a_type_the_table_does_not_have_is_an_error():
    with pytest.raises(SettlementInputError, match="没有服务类型「phone」"):
        adapt_point_table(DEFAULT_POINT_TABLE, {"phone": 1}, code="x", name="x")


def test_counting_records_of_an_unknown_type_are_an_error():
    with pytest.raises(SettlementInputError, match="服务类型「phone」不在工作量点数表"):
        workload_points({"phone": 3}, member="甲")


def test_a_negative_count_is_an_error():
    with pytest.raises(SettlementInputError, match="记录数必须是非负整数"):
        workload_points({"home_visit": -1})


# --------------------------------------------------------------------------- deductions


def test_three_deduction_points_take_three_percent_into_the_fund():
    """10000 fen, reserve 1000; 甲 and 乙 weigh 1 each: 4500 each.

    乙 has 3 points: 4500 × 3% = 135 fen deducted, paid 4365; the fund is 1000 + 135 = 1135;
    甲 still gets 4500 (the deduction is not shared out): 1135 + 4500 + 4365 = 10000.
    """
    team = distribute_members(10000, [member("甲"), member("乙", points=3)])
    yi = team.members[1]
    assert (
        (yi.gross_fen, yi.deducted_fen, yi.amount_fen),
        amounts(team)["甲"],
        (team.configured_reserve_fen, team.deducted_fen, team.reserve_fen),
    ) == ((4500, 135, 4365), 4500, (1000, 135, 1135))


def test_a_deduction_is_rounded_half_up_to_the_fen():
    """4550 × 1% = 45.5 → 46; 4549 × 1% = 45.49 → 45."""
    assert (deduction_fen(4550, 1), deduction_fen(4549, 1)) == (46, 45)


def test_a_deduction_of_a_fraction_of_a_point_is_allowed():
    """4500 × 0.5% = 22.5 → 23."""
    assert deduction_fen(4500, Decimal("0.5")) == 23


def test_a_hundred_points_or_more_take_the_whole_amount_and_no_more():
    assert (deduction_fen(4500, 100), deduction_fen(4500, 150)) == (4500, 4500)


def test_negative_deduction_points_are_an_error():
    with pytest.raises(SettlementInputError, match="成员「乙」的扣分不能为负数"):
        distribute_members(100, [member("甲"), member("乙", points=-1)])


# --------------------------------------------------------------------------- leaders


def test_a_leader_outside_the_split_gets_nothing_from_the_team():
    """10000 fen, reserve 1000; the leader carries no weight, 甲 and 乙 share 9000: 4500 each."""
    team = distribute_members(
        10000, [member("组长", leader=True), member("甲"), member("乙")], leaders_in_split=False
    )
    leader = team.members[0]
    assert (
        amounts(team),
        (leader.in_split, leader.paid_by_management, leader.weight),
    ) == ({"组长": 0, "甲": 4500, "乙": 4500}, (False, True, Decimal("0")))


def test_leaders_stay_outside_the_split_by_default_as_the_seed_says():
    team = distribute_members(9000, [member("组长", leader=True), member("甲")], reserve_rate=0)
    assert amounts(team) == {"组长": 0, "甲": 9000}


def test_a_leader_inside_the_split_is_an_ordinary_member():
    """9000 to share over three equal weights: 3000 each."""
    team = distribute_members(
        10000, [member("组长", leader=True), member("甲"), member("乙")], leaders_in_split=True
    )
    assert amounts(team) == {"组长": 3000, "甲": 3000, "乙": 3000}


def test_the_management_share_is_split_over_leaders_by_their_teams_scores():
    """1,000,000 fen at 5% = 50,000; scores 90 and 80 (total 170).

    Exact 26470.588… and 23529.411…; floors 49,999, the fen goes to .588 (张组长).
    The teams go on with 1,000,000 − 50,000 = 950,000.
    """
    share = management_share(
        1_000_000,
        Decimal("0.05"),
        [LeaderInput("张组长", "一团队", 90), LeaderInput("李组长", "二团队", 80)],
    )
    assert (
        [leader.amount_fen for leader in share.leaders],
        share.management_fen,
        share.teams_fen,
    ) == ([26471, 23529], 50000, 950000)


def test_the_management_share_weighs_the_leaders_post_coefficient():
    """Weights 1.5 × 80 = 120 and 1 × 80 = 80 share 1000 fen (rate 1): 600 and 400."""
    share = management_share(
        1000,
        1,
        [LeaderInput("甲", "一团队", 80, y=Decimal("1.5")), LeaderInput("乙", "二团队", 80)],
    )
    assert [leader.amount_fen for leader in share.leaders] == [600, 400]


def test_without_a_leader_carrying_weight_nothing_is_set_aside():
    share = management_share(
        1000, Decimal("0.05"), [LeaderInput("甲", "一团队", 90, probation=True)]
    )
    assert (share.configured_management_fen, share.management_fen, share.teams_fen) == (
        50,
        0,
        1000,
    )


def test_two_leaders_of_the_same_name_in_different_teams_are_allowed():
    share = management_share(
        100, 1, [LeaderInput("张伟", "一团队", 50), LeaderInput("张伟", "二团队", 50)]
    )
    assert [leader.amount_fen for leader in share.leaders] == [50, 50]


def test_the_same_leader_twice_in_a_team_is_an_error():
    with pytest.raises(SettlementInputError, match="负责人重复"):
        management_share(
            100, 1, [LeaderInput("张伟", "一团队", 50), LeaderInput("张伟", "一团队", 50)]
        )


def test_a_team_score_above_100_is_an_error():
    with pytest.raises(SettlementInputError, match="团队考核得分必须在 0 到 100 之间"):
        management_share(100, 1, [LeaderInput("张伟", "一团队", 101)])


def test_a_non_boolean_leader_flag_is_an_error():
    with pytest.raises(SettlementInputError, match="负责人标记必须是 true 或 false"):
        distribute_members(100, [member("甲", leader="yes")])


# --------------------------------------------------------------------------- probation


def test_an_all_probation_team_keeps_everything_in_the_fund():
    """Nobody carries weight: reserve 1000 + undistributed 9000 = the fund holds all 10000."""
    team = distribute_members(10000, [member("甲", probation=True), member("乙", probation=True)])
    assert (
        team.configured_reserve_fen,
        team.undistributed_fen,
        team.reserve_fen,
        team.paid_fen,
        list(amounts(team).values()),
    ) == (1000, 9000, 10000, 0, [0, 0])


def test_probation_members_are_not_paid_by_the_management_share_either():
    team = distribute_members(100, [member("组长", leader=True, probation=True), member("甲")])
    assert team.members[0].paid_by_management is False


# --------------------------------------------------------------------------- properties

factors = st.tuples(
    st.decimals(min_value=0, max_value=Decimal("1.2"), places=2),  # k
    st.decimals(min_value=Decimal("0.5"), max_value=3, places=2),  # y
    st.decimals(min_value=Decimal("0.8"), max_value=Decimal("1.2"), places=2),  # c
    st.decimals(min_value=0, max_value=1, places=4),  # a
    st.booleans(),  # probation
    st.booleans(),  # leader
    st.decimals(min_value=0, max_value=120, places=1),  # deduction points
)


@given(
    amount=st.integers(0, 10**9),
    rate=st.decimals(min_value=0, max_value=1, places=3),
    in_split=st.booleans(),
    rows=st.lists(factors, min_size=1, max_size=12),
)
def test_the_parts_of_a_team_always_add_up_to_its_amount(amount, rate, in_split, rows):
    team = distribute_members(
        amount,
        [member(f"成员{i}", *row) for i, row in enumerate(rows)],
        reserve_rate=rate,
        leaders_in_split=in_split,
    )
    assert team.reserve_fen + sum(line.amount_fen for line in team.members) == amount
    assert team.reserve_fen == (
        team.configured_reserve_fen
        + sum(line.deducted_fen for line in team.members)
        + team.undistributed_fen
    )
    assert all(0 <= line.deducted_fen <= line.gross_fen for line in team.members)


@given(
    amount=st.integers(0, 10**9),
    rate=st.decimals(min_value=0, max_value=1, places=3),
    rows=st.lists(factors, min_size=1, max_size=12),
)
def test_without_deductions_or_leaders_it_pays_what_distribute_team_pays(amount, rate, rows):
    plain = [(k, y, c, a, probation) for k, y, c, a, probation, _, _ in rows]
    team = distribute_members(
        amount, [member(f"成员{i}", *row) for i, row in enumerate(plain)], reserve_rate=rate
    )
    base = distribute_team(
        amount, rate, [MemberInput(f"成员{i}", *row) for i, row in enumerate(plain)]
    )
    assert [line.amount_fen for line in team.members] == [m.amount_fen for m in base.members]


@given(
    amount=st.integers(0, 10**9),
    rate=st.decimals(min_value=0, max_value=1, places=3),
    scores=st.lists(st.decimals(min_value=0, max_value=100, places=2), min_size=1, max_size=8),
)
def test_the_management_share_and_the_teams_always_add_up_to_the_institution(amount, rate, scores):
    share = management_share(
        amount, rate, [LeaderInput("组长", f"团队{i}", score) for i, score in enumerate(scores)]
    )
    assert share.teams_fen + sum(leader.amount_fen for leader in share.leaders) == amount


# --------------------------------------------------------------------------- the docs' example


def docs_example_team():
    """The team of ``docs/settlement.md``, section "A team's money, institution to member"."""

    def k(points):
        return attainment_from_points(points, 10000, Decimal("1.2"))

    return [
        member("张组长", y=Decimal("1.2"), leader=True),
        member("王医生", k=k(11000), y=Decimal("1.2"), a=attendance_from_days(250, 250)),
        member(
            "李医生",
            k=k(9000),
            c=Decimal("1.1"),
            a=attendance([month(250, 230, "2026", sick=20)]).a,
            points=3,
        ),
        member("赵护士", k=k(13000), y=Decimal("0.8"), c=Decimal("0.9")),
        member(
            "孙护士",
            k=k(6000),
            y=Decimal("0.8"),
            a=attendance([month(250, 152, "2026", maternity=98)]).a,
        ),
        member("周医生", probation=True),
    ]


def test_the_worked_example_of_the_docs():
    """Institution 12,000,000 fen → management 5% → teams by P × S → 一团队's members.

    See ``docs/settlement.md`` for every step; this test checks every figure printed there.
    """
    share = management_share(
        12_000_000,
        Decimal("0.05"),
        [LeaderInput("张组长", "一团队", 90), LeaderInput("钱组长", "二团队", 85)],
    )
    teams = settle_pools(
        [
            PoolInput(
                "一中心",
                share.teams_fen,
                [UnitInput("一团队", 1200, 90), UnitInput("二团队", 1000, 85)],
            )
        ]
    )[0]
    team = distribute_members(teams.units[0].entitled_fen, docs_example_team())
    assert (
        [leader.amount_fen for leader in share.leaders],
        share.teams_fen,
        [unit.entitled_fen for unit in teams.units],
    ) == ([308571, 291429], 11_400_000, [6_379_275, 5_020_725])
    assert (
        team.configured_reserve_fen,
        team.deducted_fen,
        team.reserve_fen,
        team.paid_fen,
    ) == (637_928, 46_322, 684_250, 5_695_025)
    assert [
        (line.name, line.k, line.a, line.weight, line.gross_fen, line.deducted_fen, line.amount_fen)
        for line in team.members
    ] == [
        ("张组长", Decimal("1"), Decimal("1"), Decimal("0"), 0, 0, 0),
        ("王医生", Decimal("1.1"), Decimal("1"), Decimal("1.32"), 2_237_787, 0, 2_237_787),
        (
            "李医生",
            Decimal("0.9"),
            Decimal("0.92"),
            Decimal("0.9108"),
            1_544_073,
            46_322,
            1_497_751,
        ),
        ("赵护士", Decimal("1.2"), Decimal("1"), Decimal("0.864"), 1_464_733, 0, 1_464_733),
        ("孙护士", Decimal("0.6"), Decimal("0.608"), Decimal("0.29184"), 494_754, 0, 494_754),
        ("周医生", Decimal("1"), Decimal("1"), Decimal("0"), 0, 0, 0),
    ]
