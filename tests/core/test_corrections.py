"""Corrections after lock in the core (``assessments.cascade.corrections``), worked by hand.

The city of these tests: one pool of 1,000,000 fen with two counties 甲区 and 乙区, P = 100 each,
L4 80.00 each; each county has one centre with one centre team; 甲区's team has two members
医生A and 医生B (k = 10/10 = 1, y = c = a = 1), 乙区's team one member 医生C. Reserve 10%.

Locked: each county 1,000,000 × 8000/16000 = 500,000; team 500,000, reserve 50,000, members of
甲区 share 450,000 by 1 : 1 = 225,000 each.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.cascade import (
    CountyInput,
    InstitutionInput,
    MemberInput,
    PoolInput,
    PublishedScore,
    SettlementInputs,
    SettlementParameters,
    SplitInput,
    TeamInput,
    settle,
)
from assessments.cascade.corrections import (
    Amount,
    CorrectionError,
    Difference,
    ScoreChange,
    ServicesChange,
    amounts_of,
    apply_changes,
    baseline_of,
    carry,
    check_sums,
    correct,
    payable,
    pool_of,
    used_score,
)

D = Decimal
YEAR = 2026


def member(user_id: int, name: str, services: int = 10) -> MemberInput:
    return MemberInput(
        user_id=user_id, username=f"u{user_id}", name=name, post="全科医生", probation=False,
        services=services, standard=10, y=D(1), c=D(1), a=D(1),
    )  # fmt: skip


def county(unit_id: int, name: str, members: tuple[MemberInput, ...]) -> CountyInput:
    team = TeamInput(
        unit_id=unit_id + 2, code=f"T{unit_id}", name=f"{name}团队", part="centre",
        signed_population=100,
        l2=tuple(
            PublishedScore("L2", f"{YEAR}-Q{q}", unit_id * 10 + q, 1, D("80.00"))
            for q in range(1, 5)
        ),
        members=members,
    )  # fmt: skip
    inst = InstitutionInput(
        unit_id=unit_id + 1, code=f"I{unit_id}", name=f"{name}中心", subtype=None,
        signed_population=100,
        score=PublishedScore("L3", f"{YEAR}-H2", unit_id * 10, 1, D("80.00")),
        split=SplitInput(D(1), D(0), "none"), teams=(team,),
    )  # fmt: skip
    return CountyInput(
        unit_id=unit_id, code=f"C{unit_id}", name=name, signed_population=100,
        score=PublishedScore("L4", str(YEAR), unit_id, 1, D("80.00")),
        preallocated_fen=0, preallocation_note=None, institutions=(inst,),
    )  # fmt: skip


def city() -> SettlementInputs:
    a = county(10, "甲区", (member(1, "医生A"), member(2, "医生B")))
    b = county(20, "乙区", (member(3, "医生C"),))
    return SettlementInputs(
        year=YEAR,
        as_of=f"{YEAR}-12-31",
        parameters=SettlementParameters(D("0.10"), D("0.70"), D("1.2")),
        pools=(PoolInput(1, "P", "市区", 1_000_000, (a, b)),),
    )


def diffs(lines: tuple[Difference, ...]) -> dict[str, int]:
    return {d.line.key: d.difference_fen for d in lines}


LOCKED = amounts_of(settle(city()))


def test_the_locked_city_is_as_worked_by_hand() -> None:
    amounts = {a.key: a.entitled_fen for a in LOCKED}
    assert amounts["county:10"] == amounts["county:20"] == 500_000
    assert amounts["reserve:12"] == 50_000
    assert amounts["member:12:1"] == amounts["member:12:2"] == 225_000


def test_a_false_record_moves_money_from_its_doctor_to_the_teammates_only() -> None:
    # 医生A 10 → 9 services: k 0.9 : 1 → A = 450,000 × 0.9/1.9 = 213,157.89… → 213,158;
    # B = 236,842.10… → 236,842. The team's amount (P × S̄) and its reserve do not move.
    result = correct(city(), [], ServicesChange(team_id=12, user_id=1, delta=-1), LOCKED)
    assert diffs(result.lines) == {"member:12:1": -11_842, "member:12:2": 11_842}
    assert result.total_fen == 0


def test_corrections_of_one_sheet_compound_and_add_up_to_all_facts_at_once() -> None:
    first = ServicesChange(12, 1, -1)
    second = ServicesChange(12, 1, -1)
    one = correct(city(), [], first, LOCKED)
    two = correct(city(), [first], second, baseline_of(LOCKED, [one.lines]))
    # 9 → 8: k 0.8 : 1 → A = 450,000 × 0.8/1.8 = 200,000, B = 250,000 (from 213,158 / 236,842).
    assert diffs(two.lines) == {"member:12:1": -13_158, "member:12:2": 13_158}
    together = carry([one.lines, two.lines])
    assert together == {"member:12:1": -25_000, "member:12:2": 25_000}
    at_once = amounts_of(settle(apply_changes(city(), [first, second])))
    by_key = {a.key: a.entitled_fen for a in LOCKED}
    assert {
        a.key: a.entitled_fen - by_key[a.key] for a in at_once if a.entitled_fen != by_key[a.key]
    } == together


def test_an_appeal_raising_a_county_score_takes_from_the_other_counties_of_the_fixed_pool() -> None:
    # 甲区 L4 80 → 90: weights 9,000 : 8,000 of 1,000,000 → 甲 529,411.76… → 529,412,
    # 乙 470,588.23… → 470,588. 甲's institution and team follow (+29,412); its reserve
    # 10% × 529,412 = 52,941.2 → 52,941 (+2,941); its members share 476,471 by 1 : 1 =
    # 238,235.5 each, the odd fen to 医生A by the name tie rule → +13,236 and +13,235.
    # 乙's reserve 47,058.8 → 47,059 (−2,941); 医生C 423,529 (−26,471).
    raised = PublishedScore("L4", str(YEAR), 99, 2, D("90.00"))
    result = correct(city(), [], ScoreChange(unit_id=10, score=raised), LOCKED)
    assert diffs(result.lines) == {
        "county:10": 29_412,
        "institution:11": 29_412,
        "split:11:centre": 29_412,
        "team:12": 29_412,
        "member:12:1": 13_236,
        "member:12:2": 13_235,
        "reserve:12": 2_941,
        "county:20": -29_412,
        "institution:21": -29_412,
        "split:21:centre": -29_412,
        "team:22": -29_412,
        "member:22:3": -26_471,
        "reserve:22": -2_941,
    }
    assert sum(d for k, d in diffs(result.lines).items() if k.startswith("county:")) == 0


def test_a_lower_l2_quarter_changes_nothing_when_the_team_is_alone_in_its_part() -> None:
    # 甲区's centre has one team: whatever its S̄, it gets the whole part.
    lowered = PublishedScore("L2", f"{YEAR}-Q3", 77, 2, D("60.00"))
    result = correct(city(), [], ScoreChange(unit_id=12, score=lowered), LOCKED)
    assert result.lines == ()
    assert (
        apply_changes(city(), [ScoreChange(12, lowered)])
        .pools[0]
        .counties[0]
        .institutions[0]
        .teams[0]
        .l2[2]
        == lowered
    )


def test_a_fact_the_sheet_did_not_use_is_refused() -> None:
    assert pool_of(city(), ServicesChange(team_id=12, user_id=3, delta=-1)) is None
    with pytest.raises(CorrectionError, match="未使用"):
        correct(city(), [], ServicesChange(12, 3, -1), LOCKED)
    l3_as_l4 = ScoreChange(11, PublishedScore("L4", str(YEAR), 5, 2, D("90")))
    assert pool_of(city(), l3_as_l4) is None


def test_changed_rules_since_the_lock_are_refused_rather_than_mixed_into_the_difference() -> None:
    tampered = [
        Amount(
            **{**_fields(a), "entitled_fen": a.entitled_fen + (1 if a.key == "reserve:12" else 0)}
        )
        for a in LOCKED
    ]
    with pytest.raises(CorrectionError, match="不一致"):
        correct(city(), [], ServicesChange(12, 1, -1), tampered)


def _fields(a: Amount) -> dict[str, object]:
    return {name: getattr(a, name) for name in Amount.__slots__}


def test_unbalanced_differences_are_refused() -> None:
    team = Amount("team:1", "pool:1", "team", "T", 100)
    one = Amount("member:1:1", "team:1", "member", "A", 50)
    with pytest.raises(CorrectionError, match="不平衡"):
        check_sums((Difference(team, 100, 100), Difference(one, 50, 40)))
    pool = Amount("pool:1", None, "pool", "P", 100)
    with pytest.raises(CorrectionError, match="资金固定"):
        check_sums(
            (
                Difference(pool, 100, 90),
                Difference(Amount("county:2", "pool:1", "county", "C", 10), 10, 0),
            )
        )


def test_payable_adds_the_adjustments_and_keeps_a_line_no_longer_on_the_sheet() -> None:
    assert payable(
        {"member:12:1": 300_000, "member:12:2": 300_000}, {"member:12:1": -11_842, "member:99:7": 5}
    ) == {
        "member:12:1": 288_158,
        "member:12:2": 300_000,
        "member:99:7": 5,
    }


def test_an_earlier_correction_is_the_baseline_of_the_next() -> None:
    raised = ScoreChange(10, PublishedScore("L4", str(YEAR), 99, 2, D("90.00")))
    appeal = correct(city(), [], raised, LOCKED)
    # After the appeal 甲区's team shares 476,471: 238,236 / 238,235. 医生A 10 → 9 services:
    # 0.9 : 1 → 225,696.79 and 250,774.21 → 225,697 (the fen to .79) and 250,774 (−12,539 and +12,539).
    record = correct(
        city(), [raised], ServicesChange(12, 1, -1), baseline_of(LOCKED, [appeal.lines])
    )
    assert diffs(record.lines) == {"member:12:1": -12_539, "member:12:2": 12_539}


def test_only_the_lines_a_change_can_move_are_computed_and_they_match_the_whole_sheet() -> None:
    change = ServicesChange(12, 1, -1)
    whole_before = {a.key: a.entitled_fen for a in LOCKED}
    whole_after = {
        a.key: a.entitled_fen for a in amounts_of(settle(apply_changes(city(), [change])))
    }
    moved = {k: whole_after[k] - v for k, v in whole_before.items() if whole_after[k] != v}
    assert diffs(correct(city(), [], change, LOCKED).lines) == moved


def test_used_score_finds_the_score_a_change_would_replace() -> None:
    l4 = ScoreChange(10, PublishedScore("L4", str(YEAR), 99, 2, D("90.00")))
    assert used_score(city(), l4) == PublishedScore("L4", str(YEAR), 10, 1, D("80.00"))
    q3 = ScoreChange(12, PublishedScore("L2", f"{YEAR}-Q3", 99, 2, D("70.00")))
    assert used_score(city(), q3) == PublishedScore("L2", f"{YEAR}-Q3", 103, 1, D("80.00"))
    h1 = ScoreChange(11, PublishedScore("L3", f"{YEAR}-H1", 99, 2, D("70.00")))
    assert used_score(city(), h1) is None  # the settlement uses the year-end L3 only
