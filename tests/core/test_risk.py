"""Risk-based verification: hand-computed doctor weights, resident weights and widening."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assessments.risk import DoctorRisk, doctor_weight, resident_weights, widened_size
from assessments.sampling import draw


def test_an_honest_doctor_weighs_one() -> None:
    assert DoctorRisk().weight == Decimal(1)
    assert DoctorRisk(checked=40).weight == Decimal(1)  # verified and all true
    assert DoctorRisk().explain() == "权重 1（无风险记录）"


def test_each_reason_adds_its_step_by_hand() -> None:
    # 3 open flags: 1 + 0.75
    assert DoctorRisk(open_flags=3).weight == Decimal("1.75")
    # 2 false of 10 checked: 1 + 10 × 2 / (10 + 10) = 2
    assert DoctorRisk(checked=10, found_false=2).weight == Decimal(2)
    # 1 false of 2 checked is not a 50% rate: 1 + 10 × 1 / 12 = 1.8333
    assert DoctorRisk(checked=2, found_false=1).weight == Decimal("1.8333")
    # a dispute in the previous period: + 1
    assert DoctorRisk(disputed_before=1).weight == Decimal(2)
    # all together, capped at 4: 1 + 0.5 + 2.5 + 1 = 5 → 4
    risky = DoctorRisk(open_flags=2, checked=10, found_false=5, disputed_before=3)
    assert risky.weight == Decimal(4)
    assert "未处理疑点 2 条" in risky.explain() and "上期被居民否认 3 条" in risky.explain()


def test_parameters_are_the_rule_not_constants_in_the_code() -> None:
    risk = DoctorRisk(open_flags=4)
    assert doctor_weight(risk, flag_step=Decimal("0.5")) == Decimal(3)
    assert doctor_weight(risk, flag_step=Decimal("0.5"), cap=Decimal("2.5")) == Decimal("2.5")


def test_impossible_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        DoctorRisk(checked=1, found_false=2)
    with pytest.raises(ValueError):
        DoctorRisk(open_flags=-1)
    with pytest.raises(ValueError):
        widened_size(20, 100, -1)


def test_a_resident_takes_the_riskiest_doctor_who_served_them() -> None:
    weights = {7: Decimal(3), 8: Decimal("1.5")}
    doctors_of = {"r1": [7, 8], "r2": [8], "r3": [9], "r4": []}
    assert resident_weights(doctors_of, weights) == {"r1": Decimal(3), "r2": Decimal("1.5")}


def test_widening_adds_five_per_disputed_doctor_up_to_the_population() -> None:
    assert widened_size(20, 300, 0) == 20
    assert widened_size(20, 300, 2) == 30
    assert widened_size(20, 24, 2) == 24


def test_a_risky_doctors_residents_are_drawn_more_often() -> None:
    """Over many seeded draws, residents of a weight-4 doctor are sampled far more often than
    their share, and the draw stays replayable (same seed, same sample)."""
    residents = list(range(200))
    risky = set(range(20))  # 10% of the team served by the risky doctor
    weights = resident_weights({r: [1] for r in risky}, {1: Decimal(4)})
    hits = 0
    for seed in range(200):
        sample = draw(residents, 20, seed, weights)
        assert sample == draw(list(reversed(residents)), 20, seed, weights)
        hits += len(risky.intersection(sample))
    share = hits / (200 * 20)
    assert share > 0.25  # uniform would give 0.10; weight 4 gives about 0.3
