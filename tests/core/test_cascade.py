"""The cascade in the core (``assessments.cascade``) on hand-built inputs, and its rule of means.

The rule: each published assessment's total (two decimals, as published) is an input; the mean
of a team's published L2 scores and every weight are kept exact through the cascade; only what
is shown is rounded. Every expected amount is worked out by hand in the comments.

The city of these tests: one pool of 1,000,000 fen, one county, one community centre with two
centre teams A and B of P = 2 each, one member each (y 1.2, k 1, c 1, a 1), reserve 10%. The pool,
county and institution each have a single unit, so the centre part gets the whole 1,000,000 fen.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from assessments.cascade import (
    CountyInput,
    InstitutionInput,
    Line,
    MemberInput,
    PoolInput,
    PreallocationCounty,
    PreallocationInputs,
    PreallocationPool,
    PublishedScore,
    SettlementInputs,
    SettlementParameters,
    SplitInput,
    TeamInput,
    preallocation,
    settle,
)
from assessments.cascade.steps import line_steps
from assessments.money import SettlementInputError

D = Decimal
YEAR = 2026
FUND = 1_000_000


def published(period: str, value: str, level: str = "L2", assessment_id: int = 1) -> PublishedScore:
    return PublishedScore(level, period, assessment_id, 1, D(value), "published")


def team(unit_id: int, name: str, scores: list[str], population: int = 2) -> TeamInput:
    return TeamInput(
        unit_id=unit_id,
        code=f"T{unit_id}",
        name=name,
        part="centre",
        signed_population=population,
        l2=tuple(
            published(f"{YEAR}-Q{q}", v, assessment_id=unit_id * 10 + q)
            for q, v in enumerate(scores, start=1)
        ),  # fmt: skip
        members=(
            MemberInput(
                user_id=unit_id * 100,
                username=f"u{unit_id}",
                name=f"{name}医生",
                post="全科医生",
                probation=False,
                services=10,
                standard=10,
                y=D("1.2"),
                c=D("1.0"),
                a=D("1"),
            ),
        ),  # fmt: skip
    )


def city(a_scores: list[str], b_scores: list[str]) -> SettlementInputs:
    teams = (team(11, "甲团队", a_scores), team(12, "乙团队", b_scores))
    inst = InstitutionInput(
        unit_id=3, code="I", name="甲中心", subtype="community_centre", signed_population=4,
        score=published(f"{YEAR}-H2", "90.00", "L3"), split=SplitInput(D(1), D(0), "none"),
        teams=teams,
    )  # fmt: skip
    county = CountyInput(
        unit_id=2, code="C", name="甲区", signed_population=4,
        score=published(str(YEAR), "90.00", "L4"), preallocated_fen=0, preallocation_note=None,
        institutions=(inst,),
    )  # fmt: skip
    return SettlementInputs(
        year=YEAR,
        as_of=f"{YEAR}-12-31",
        parameters=SettlementParameters(D("0.10"), D("0.70"), D("1.2")),
        pools=(PoolInput(1, "P", "市区", FUND, (county,)),),
    )


def by_key(lines: list[Line]) -> dict[str, Line]:
    return {line.key: line for line in lines}


def team_amounts(lines: list[Line]) -> tuple[int | None, int | None]:
    keyed = by_key(lines)
    return keyed["team:11"].entitled_fen, keyed["team:12"].entitled_fen


def test_the_exact_mean_weighs_the_share_and_rounding_it_first_would_move_fen() -> None:
    # A: (85.00 + 85.01) ÷ 2 = 85.005 exactly (shown 85.01); B: 85.00.
    # Exact rule: weights 2 × 85.005 = 170.01 and 2 × 85 = 170, i.e. 17001 : 17000.
    #   A = 1,000,000 × 17001/34001 = 500,014.7054… ; B = 1,000,000 × 17000/34001 = 499,985.2945…
    #   floors 500,014 + 499,985 = 999,999; the leftover fen goes to A (remainder .705 > .295).
    # Rounding the mean first (85.01) would give 8501 : 8500 → A 500,029.41…, B 499,970.58… →
    #   A 500,029, B 499,971 (the leftover to B): 14 fen would move from B to A.
    lines = settle(city(["85.00", "85.01"], ["85.00"]))
    assert team_amounts(lines) == (500_015, 499_985)
    a = by_key(lines)["team:11"]
    assert a.score == D("85.01")  # shown rounded
    assert a.weight == Fraction("170.01")  # weighed exactly
    assert a.exact_fen == Fraction(17_001_000_000, 34_001)
    assert any("平均 S̄ = 85.005" in step and "表中显示 85.01" in step for step in line_steps(a))
    # The members share after the reserve: 10% of 500,015 = 50,001.5 → 50,002 (half up).
    keyed = by_key(lines)
    assert keyed["reserve:11"].entitled_fen == 50_002
    assert keyed["member:11:1100"].entitled_fen == 450_013
    assert keyed["reserve:12"].entitled_fen == 49_999  # 49,998.5 → 49,999
    assert keyed["member:12:1200"].entitled_fen == 449_986


def test_when_the_mean_has_two_places_both_rules_agree() -> None:
    # A: (85.00 + 85.02) ÷ 2 = 85.01 exactly, the same as its shown value, so rounding first or
    # not gives 8501 : 8500 → A 500,029.41…, B 499,970.58…; floors 999,999, the leftover fen to B
    # (remainder .588 > .412): A 500,029, B 499,971.
    lines = settle(city(["85.00", "85.02"], ["85.00"]))
    assert team_amounts(lines) == (500_029, 499_971)
    assert by_key(lines)["team:11"].score == D("85.01")
    # A single published 85.01 is the same mean, and gives the same amounts.
    assert team_amounts(settle(city(["85.01"], ["85.00"]))) == (500_029, 499_971)


def test_a_mean_without_a_finite_decimal_stays_a_fraction() -> None:
    # A: (90.00 + 90.00 + 90.01) ÷ 3 = 270.01/3 = 27001/300 (shown 90.00); B: 90.00.
    # Weights 2 × 27001/300 = 27001/150 and 180 = 27000/150 → 27001 : 27000.
    #   A = 1,000,000 × 27001/54001 = 500,009.2590… ; B = 499,990.7409…
    #   floors 999,999; the leftover fen to B (remainder .741 > .259): A 500,009, B 499,991.
    lines = settle(city(["90.00", "90.00", "90.01"], ["90.00"]))
    assert team_amounts(lines) == (500_009, 499_991)
    a = by_key(lines)["team:11"]
    assert a.score == D("90.00") and a.weight == Fraction(27001, 150)
    assert any("27001/300（≈90.003333）" in step for step in line_steps(a))


def test_a_published_l2_score_outside_0_100_or_with_three_places_is_refused() -> None:
    with pytest.raises(SettlementInputError, match="甲团队.*最多两位小数：85.001"):
        settle(city(["85.001"], ["85.00"]))
    with pytest.raises(SettlementInputError, match="0 到 100"):
        settle(city(["100.01"], ["85.00"]))


def test_every_level_adds_up_and_lines_come_depth_first() -> None:
    lines = settle(city(["85.00", "85.01"], ["85.00"]))
    assert [line.level for line in lines] == [
        "pool", "county", "institution", "split",
        "team", "member", "reserve", "team", "member", "reserve",
    ]  # fmt: skip
    keyed = by_key(lines)
    for line in lines:
        children = [c.entitled_fen or 0 for c in lines if c.parent == line.key]
        if children:
            assert sum(children) == line.entitled_fen, line.key
    assert keyed["pool:1"].entitled_fen == FUND


def test_the_preallocation_goes_by_last_year_and_population() -> None:
    # Budget 0.70 × 1,000,000 = 700,000. 甲 claims 0.70 × 600,000 = 420,000; 乙 (no history)
    # gets the rest, 280,000.
    inputs = PreallocationInputs(
        year=YEAR,
        as_of=f"{YEAR - 1}-12-31",
        preallocation_rate=D("0.70"),
        pools=(
            PreallocationPool(1, "P", "市区", FUND, (
                PreallocationCounty(2, "C1", "甲区", 10, 600_000),
                PreallocationCounty(3, "C2", "乙区", 5, None),
            )),
        ),
    )  # fmt: skip
    lines = by_key(preallocation(inputs))
    assert lines["pool:1"].preallocated_fen == 700_000
    assert (lines["county:2"].preallocated_fen, lines["county:3"].preallocated_fen) == (
        420_000,
        280_000,
    )
