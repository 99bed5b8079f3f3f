"""The cascade's team split from its sources (``assessments.cascade.members``/``management``):
k from workload points, a from monthly attendance, deductions into the fund, the leader rule.

One pool of 1,000,000 fen → one county → one centre (single units: the centre part gets it all)
→ one team 甲团队 (P 2, L2 90 × 4) with a leader (y 1.2) and two doctors (y 1.2, c 1), reserve
10%, cap 1.2, standard 100 points. Worked by hand below.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from assessments.cascade import (
    AttendanceInput,
    InstitutionInput,
    Line,
    MemberInput,
    SettlementInputs,
    settle,
)
from assessments.money import SettlementInputError
from tests.core.test_cascade import city

D = Decimal


def member(user_id: int, name: str, **kw: object) -> MemberInput:
    base = MemberInput(
        user_id=user_id, username=f"u{user_id}", name=name, post="全科医生", probation=False,
        services=0, standard=None, y=D("1.2"), c=D("1.0"), a=None, points=D(100),
        standard_points=D(100), attendance=tuple(
            AttendanceInput(f"2026-{m:02d}", 22, 22) for m in range(1, 13)
        ),
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def inputs(leaders_in_split: bool, rate: str | None, *members: MemberInput) -> SettlementInputs:
    base = city(["90", "90", "90", "90"], [])
    county = base.pools[0].counties[0]
    inst = county.institutions[0]
    team = replace(inst.teams[0], members=members)
    new_inst: InstitutionInput = replace(
        inst, teams=(team,), leaders_in_split=leaders_in_split,
        management_rate=D(rate) if rate is not None else None,
    )  # fmt: skip
    pool = replace(base.pools[0], counties=(replace(county, institutions=(new_inst,)),))
    return replace(base, pools=(pool,))


def keyed(lines: list[Line]) -> dict[str, Line]:
    return {line.key: line for line in lines}


TEAM = (
    member(1, "组长", leader=True, points=D(0), attendance=()),
    member(
        2,
        "王医生",
        attendance=tuple(AttendanceInput(f"2026-{m:02d}", 22, 20) for m in range(1, 13)),
    ),  # fmt: skip
    member(3, "李医生", points=D(50), deduction_points=D(3), deduction_count=1),
)


def test_leader_outside_the_split_is_paid_from_the_management_share() -> None:
    # Management 5% × 1,000,000 = 50,000 → all to 组长 (the only leader, y 1.2 × 90).
    # The team gets 950,000: fund 95,000; 855,000 by weight: 王 1 × 1.2 × 1 × 0.9091 = 1.09092,
    # 李 0.5 × 1.2 × 1 × 1 = 0.6 (Σ 1.69092): 王 855,000 × 1.09092/1.69092 = 551,614.80…,
    # 李 303,385.19… → floors 854,999, the fen to 王 (.80): 551,615 and 303,385.
    # 李's 3 points: 3% × 303,385 = 9,101.55 → 9,102 to the fund: paid 294,283.
    lines = keyed(settle(inputs(False, "0.05", *TEAM)))
    assert lines["management:3"].entitled_fen == 50_000
    assert lines["leader:11:1"].entitled_fen == 50_000
    assert lines["team:11"].entitled_fen == 950_000
    wang, li = lines["member:11:2"], lines["member:11:3"]
    assert wang.entitled_fen == 551_615 and wang.explanation.factors is not None
    assert wang.explanation.factors.a == D("0.9091")
    assert wang.explanation.factors.days_worked == 240
    assert li.explanation.factors is not None
    assert (li.explanation.factors.gross_fen, li.explanation.factors.deducted_fen) == (
        303_385, 9_102,
    )  # fmt: skip
    assert li.entitled_fen == 294_283
    assert lines["member:11:1"].entitled_fen == 0
    assert lines["reserve:11"].entitled_fen == 95_000 + 9_102
    assert 551_615 + 294_283 + 104_102 == 950_000


def test_leader_in_the_split_when_the_institution_says_so() -> None:
    # In the split the leader is an ordinary member and needs an attendance record.
    leader = replace(TEAM[0], attendance=TEAM[2].attendance)
    lines = keyed(settle(inputs(True, None, leader, *TEAM[1:])))
    assert "management:3" not in lines
    assert lines["team:11"].entitled_fen == 1_000_000
    factors = lines["member:11:1"].explanation.factors
    assert factors is not None and factors.in_split and not factors.paid_by_management


def test_leaders_outside_without_a_rate_are_refused() -> None:
    with pytest.raises(SettlementInputError, match="未配置负责人统筹比例"):
        settle(inputs(False, None, *TEAM))


def test_a_member_who_carries_weight_needs_attendance() -> None:
    with pytest.raises(SettlementInputError, match="没有出勤记录"):
        settle(inputs(True, None, member(2, "王医生", attendance=())))


def test_inputs_without_sources_give_the_former_split() -> None:
    # The inputs of sheets gathered before the sources: services ÷ standard, a typed in, leaders
    # in the split (the defaults) — the lines name the sources "records" and "typed".
    lines = settle(city(["90"], ["90"]))
    member_line = keyed(lines)["member:11:1100"]
    factors = member_line.explanation.factors
    assert factors is not None
    assert (factors.k_source, factors.a_source, factors.in_split) == ("records", "typed", True)


def test_a_leader_on_probation_needs_no_management_rate() -> None:
    leader = replace(TEAM[0], probation=True)
    lines = keyed(settle(inputs(False, None, leader, *TEAM[1:])))
    assert "management:3" not in lines and lines["team:11"].entitled_fen == 1_000_000
    assert lines["member:11:1"].entitled_fen == 0
