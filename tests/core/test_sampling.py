"""Seeded, reproducible sampling (assessments.sampling)."""

from __future__ import annotations

import hashlib
from decimal import Decimal, localcontext

import pytest

from assessments.sampling import (
    SamplingError,
    candidate_hash,
    draw,
    draw_residents_per_team,
    draw_spot_check,
    new_seed,
    sample_size,
    team_risk_weight,
    team_sample_size,
)

RESIDENTS = [f"R{i:03d}" for i in range(1, 101)]
SEED = 20260401


def residents(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(count)]


# --------------------------------------------------------------------------- the draw


def test_candidate_hash_is_sha256_of_seed_colon_id() -> None:
    expected = int.from_bytes(hashlib.sha256(b"7:R001").digest(), "big")
    assert candidate_hash(7, "R001") == expected


def test_uniform_draw_with_a_fixed_seed_gives_the_recorded_sample() -> None:
    assert draw(RESIDENTS, 8, SEED) == [
        "R013",
        "R040",
        "R023",
        "R039",
        "R066",
        "R068",
        "R086",
        "R073",
    ]


def test_weighted_draw_with_a_fixed_seed_gives_the_recorded_sample() -> None:
    weights = {r: Decimal(5) for r in RESIDENTS[:10]}
    assert draw(RESIDENTS, 8, SEED, weights=weights) == [
        "R013",
        "R040",
        "R023",
        "R039",
        "R066",
        "R003",
        "R005",
        "R068",
    ]


def test_draw_does_not_depend_on_the_order_of_candidates() -> None:
    shuffled = sorted(RESIDENTS, key=lambda r: r[::-1])
    assert draw(shuffled, 8, SEED) == draw(RESIDENTS, 8, SEED)


def test_weighted_draw_does_not_depend_on_the_order_of_candidates() -> None:
    weights = {r: Decimal(i % 4 + 1) for i, r in enumerate(RESIDENTS)}
    reversed_ids = list(reversed(RESIDENTS))
    assert draw(reversed_ids, 8, SEED, weights) == draw(RESIDENTS, 8, SEED, weights)


def test_a_different_seed_gives_a_different_sample() -> None:
    assert draw(RESIDENTS, 8, SEED + 1) != draw(RESIDENTS, 8, SEED)


def test_an_int_seed_and_its_text_are_the_same_seed() -> None:
    assert draw(RESIDENTS, 8, str(SEED)) == draw(RESIDENTS, 8, SEED)


def test_draw_is_unaffected_by_the_callers_decimal_context() -> None:
    weights = {r: Decimal(i % 4 + 1) for i, r in enumerate(RESIDENTS)}
    expected = draw(RESIDENTS, 8, SEED, weights)
    with localcontext() as ctx:
        ctx.prec = 3
        assert draw(RESIDENTS, 8, SEED, weights) == expected


def test_equal_weights_draw_in_the_uniform_order() -> None:
    weights = {r: Decimal("2.5") for r in RESIDENTS}
    assert draw(RESIDENTS, 30, SEED, weights) == draw(RESIDENTS, 30, SEED)


def test_a_smaller_sample_is_the_start_of_a_larger_one() -> None:
    assert draw(RESIDENTS, 30, SEED)[:8] == draw(RESIDENTS, 8, SEED)


def test_integer_ids_are_drawn_and_returned_as_integers() -> None:
    sample = draw(list(range(1, 51)), 5, SEED)
    assert len(set(sample)) == 5
    assert all(isinstance(x, int) for x in sample)


def test_asking_for_more_than_there_are_returns_all_candidates() -> None:
    assert sorted(draw(RESIDENTS[:5], 20, SEED)) == RESIDENTS[:5]


def test_a_sample_of_size_zero_is_empty() -> None:
    assert draw(RESIDENTS, 0, SEED) == []


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(SamplingError):
        draw(RESIDENTS, -1, SEED)


def test_duplicate_candidates_are_refused() -> None:
    with pytest.raises(SamplingError, match="候选编号重复"):
        draw(["R001", "R002", "R001"], 2, SEED)


def test_an_int_and_its_text_are_the_same_candidate() -> None:
    mixed: list[str | int] = [1, "1"]
    with pytest.raises(SamplingError):
        draw(mixed, 1, SEED)


def test_a_zero_weight_is_never_drawn() -> None:
    weights = {"R001": Decimal(0), "R002": Decimal(0)}
    assert set(draw(RESIDENTS, 100, SEED, weights)) == set(RESIDENTS) - {"R001", "R002"}


@pytest.mark.parametrize("weight", [Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_a_negative_or_non_finite_weight_is_refused(weight: Decimal) -> None:
    with pytest.raises(SamplingError):
        draw(RESIDENTS, 5, SEED, {"R001": weight})


def test_heavy_weights_are_drawn_far_more_often_than_light_ones() -> None:
    # 100 of 1,000 candidates weigh 10: they are 10/19 of the total weight, so about half of a
    # 100-draw sample, against about 10 in a uniform draw.
    candidates = residents("C", 1000)
    heavy = set(candidates[:100])
    weights = {c: Decimal(10) for c in heavy}
    weighted = draw(candidates, 100, "audit-2026", weights)
    uniform = draw(candidates, 100, "audit-2026")
    assert 35 <= len(heavy.intersection(weighted)) <= 65
    assert len(heavy.intersection(uniform)) <= 20


def test_new_seed_fits_a_signed_64_bit_column() -> None:
    assert all(0 <= new_seed() < 2**63 for _ in range(20))


# --------------------------------------------------------------------------- sample sizes


@pytest.mark.parametrize(
    ("population", "size"),
    [(0, 0), (10, 10), (20, 20), (100, 20), (400, 20), (401, 21), (1000, 50), (1001, 51)],
)
def test_sample_size_is_five_percent_rounded_up_at_least_twenty_and_capped(
    population: int, size: int
) -> None:
    assert sample_size(population) == size


def test_sample_size_takes_another_rate_and_minimum() -> None:
    assert sample_size(1000, rate=Decimal("0.10"), minimum=5) == 100


@pytest.mark.parametrize(
    ("population", "rate", "minimum"),
    [
        (-1, Decimal("0.05"), 20),
        (100, Decimal("1.5"), 20),
        (100, Decimal("-0.1"), 20),
        (100, Decimal("0.05"), -1),
    ],
)
def test_sample_size_refuses_invalid_input(population: int, rate: Decimal, minimum: int) -> None:
    with pytest.raises(SamplingError):
        sample_size(population, rate, minimum)


@pytest.mark.parametrize(
    ("open_flags", "population", "weight"),
    [(0, 100, "1"), (1, 100, "2"), (1, 400, "1.25"), (5, 100, "3"), (1, 0, "1")],
)
def test_risk_weight_is_one_plus_flags_per_hundred_capped_at_three(
    open_flags: int, population: int, weight: str
) -> None:
    assert team_risk_weight(open_flags, population) == Decimal(weight)


def test_a_risk_weight_above_one_multiplies_the_team_sample_size() -> None:
    assert team_sample_size(1000, risk_weight=Decimal("1.5")) == 75


def test_a_raised_team_sample_size_is_capped_at_the_population() -> None:
    assert team_sample_size(30, risk_weight=Decimal(3)) == 30


def test_a_risk_weight_of_one_or_less_keeps_the_standard_size() -> None:
    assert team_sample_size(1000, risk_weight=Decimal("0.5")) == 50


# --------------------------------------------------------------------------- per team and county


def test_each_team_gets_a_sample_of_its_own_size() -> None:
    teams = {"T1": residents("A", 1000), "T2": residents("B", 100), "T3": residents("C", 7)}
    samples = draw_residents_per_team(teams, SEED)
    assert {team: len(sample) for team, sample in samples.items()} == {
        "T1": 50,
        "T2": 20,
        "T3": 7,
    }


def test_a_team_sample_is_reproducible_with_a_single_draw_call() -> None:
    teams = {"T1": residents("A", 1000), "T2": residents("B", 100)}
    samples = draw_residents_per_team(teams, SEED)
    assert samples["T1"] == draw(teams["T1"], 50, SEED)


def test_a_team_flagged_for_risk_gets_a_larger_sample() -> None:
    teams = {"T1": residents("A", 1000), "T2": residents("B", 1000)}
    samples = draw_residents_per_team(teams, SEED, risk_weights={"T2": Decimal(2)})
    assert (len(samples["T1"]), len(samples["T2"])) == (50, 100)


def test_spot_check_draws_two_institutions_per_county_or_all_if_fewer() -> None:
    counties = {"甲县": ["a1", "a2", "a3", "a4"], "乙区": ["b1"], "丙市": ["c1", "c2"]}
    assert draw_spot_check(counties, 99) == {
        "甲县": ["a3", "a2"],
        "乙区": ["b1"],
        "丙市": ["c1", "c2"],
    }


def test_spot_check_may_draw_more_than_two_per_county() -> None:
    counties = {"甲县": residents("I", 10)}
    assert len(draw_spot_check(counties, 99, per_county=4)["甲县"]) == 4


def test_spot_check_refuses_fewer_than_two_per_county() -> None:
    with pytest.raises(SamplingError, match="至少抽取 2 家"):
        draw_spot_check({"甲县": ["a1", "a2"]}, 99, per_county=1)
