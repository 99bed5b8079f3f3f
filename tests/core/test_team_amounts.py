"""``team_amounts`` (the members' amounts of a team whose members were weighed once) gives the
amounts of ``distribute_team``, whatever the amount and reserve rate."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from assessments.money import SettlementInputError
from assessments.settlement import MemberInput, distribute_team, team_amounts, team_weights


def _team(rng: random.Random, size: int) -> list[MemberInput]:
    return [
        MemberInput(
            name=f"成员{n}",
            k=Decimal(rng.randint(0, 12)) / 10,
            y=Decimal(rng.choice(["0.8", "1", "1.2"])),
            c=Decimal(rng.randint(8, 12)) / 10,
            a=Decimal(rng.randint(0, 100)) / 100,
            probation=rng.random() < 0.15,
        )
        for n in range(size)
    ]


def test_team_amounts_equal_distribute_team() -> None:
    rng = random.Random(20261206)
    for _ in range(400):
        members = _team(rng, rng.randint(1, 7))
        weighed = team_weights(members)
        for _ in range(3):
            amount = rng.choice([0, 1, 7, rng.randint(0, 10**8)])
            rate = Decimal(rng.randint(0, 100)) / 100
            expected = [s.amount_fen for s in distribute_team(amount, rate, members).members]
            assert team_amounts(amount, rate, weighed) == expected


def test_team_weights_check_the_members_as_distribute_team_does() -> None:
    with pytest.raises(SettlementInputError, match="团队没有成员"):
        team_weights([])
    bad = [MemberInput(name="甲", k=Decimal(1), y=Decimal(1), c=Decimal("1.5"), a=Decimal(1))]
    with pytest.raises(SettlementInputError, match="0.8 到 1.2"):
        team_weights(bad)
    weighed = team_weights(_team(random.Random(1), 3))
    with pytest.raises(SettlementInputError, match="部门基金提取比例"):
        team_amounts(100, Decimal("1.5"), weighed)
