"""Seeded, reproducible random samples (随机抽样) that can be audited later.

A draw is a pure function of ``(seed, candidate ids, weights, size)``: the same inputs give the same
sample on any machine and any Python version, whatever order the candidates come in. Store the seed
(``new_seed()``) with the sample, and anyone can recompute the draw and compare.

How the draw works
------------------
Every candidate gets a number from ``hashlib.sha256(f"{seed}:{candidate_id}")``: the 256-bit digest
read as a big-endian integer ``h``. ``random.Random`` is never used, because its algorithms are not
promised to stay the same across Python versions.

* **Uniform** (no weights): candidates are drawn in descending order of ``h``.
* **Weighted, without replacement** (Efraimidis–Spirakis): with ``u = (h + 1) / (2**256 + 1)``
  (so ``0 < u < 1``), each candidate's key is ``u ** (1 / w)``; candidates are drawn in descending
  order of key. Because ``log`` is increasing we compare ``ln(u) / w`` instead, computed with
  ``decimal`` at 60 significant digits in a private context. ``Decimal.ln`` and division are
  correctly rounded by the decimal specification, so the keys — unlike ``math.log`` on floats, whose
  last bit may differ between C libraries — are identical everywhere. Equal keys (never seen in
  practice) are broken by the larger ``h``. With all weights equal the order is the uniform order.
  A weight of 0 means "never drawn"; a negative or non-finite weight is an error; a candidate missing
  from ``weights`` has weight 1, so callers pass only the weights they raise or lower.

The returned list is in draw order (the first element was drawn first). Asking for more than there
are candidates returns them all, in draw order. ``seed`` may be an ``int`` or a ``str``; ``5`` and
``"5"`` are the same seed. Candidate ids are compared by their text, so ``1`` and ``"1"`` in the
same candidate list are refused as duplicates.

Sample sizes
------------
``sample_size(n)`` is 5% of ``n`` rounded up, at least 20, never more than ``n`` (SPEC 6).
Risk-based sampling: a team whose risk weight is above 1 (suspicion flags) has its sample size
multiplied by the weight, rounded up and capped at its population; weights of 1 or less leave the
standard size alone, since 5%/20 is the floor SPEC sets for every team. A team's risk weight
(``team_risk_weight``) is ``min(3, 1 + 100 × open_flags / population)``, 1 for an empty team: one
more standard sample per open suspicion flag per 100 signed residents.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Hashable, Mapping, Sequence
from decimal import ROUND_CEILING, Context, Decimal
from typing import TypeVar

__all__ = [
    "DEFAULT_MINIMUM",
    "DEFAULT_RATE",
    "RISK_WEIGHT_CAP",
    "SPOT_CHECK_MINIMUM",
    "SamplingError",
    "candidate_hash",
    "draw",
    "draw_residents_per_team",
    "draw_spot_check",
    "new_seed",
    "sample_size",
    "team_risk_weight",
    "team_sample_size",
]

DEFAULT_RATE = Decimal("0.05")
DEFAULT_MINIMUM = 20
SPOT_CHECK_MINIMUM = 2
RISK_WEIGHT_CAP = Decimal(3)

IdT = TypeVar("IdT", bound=str | int)
GroupT = TypeVar("GroupT", bound=Hashable)

_HASH_SPAN = Decimal(2**256 + 1)
# A private context: the caller's decimal context (precision, traps) must not change a draw.
_KEY_CONTEXT = Context(prec=60)


class SamplingError(ValueError):
    """Sampling input is invalid; the message is user-facing Chinese."""


def new_seed() -> int:
    """A fresh random seed to store with a draw; 63 bits so it fits a signed 64-bit column."""
    return secrets.randbits(63)


def candidate_hash(seed: int | str, candidate_id: str | int) -> int:
    """The candidate's 256-bit draw number ``sha256(f"{seed}:{candidate_id}")``."""
    digest = hashlib.sha256(f"{seed}:{candidate_id}".encode()).digest()
    return int.from_bytes(digest, "big")


def sample_size(
    population: int, rate: Decimal = DEFAULT_RATE, minimum: int = DEFAULT_MINIMUM
) -> int:
    """``rate`` of ``population`` rounded up, at least ``minimum``, at most ``population``."""
    if population < 0:
        raise SamplingError(f"总体数量不能为负数，收到 {population}")
    if minimum < 0:
        raise SamplingError(f"最少抽样数不能为负数，收到 {minimum}")
    if not Decimal(0) <= rate <= Decimal(1):
        raise SamplingError(f"抽样比例应在 0–1 之间，收到 {rate}")
    by_rate = int((Decimal(population) * rate).to_integral_value(rounding=ROUND_CEILING))
    return min(population, max(by_rate, minimum))


def team_risk_weight(open_flags: int, population: int) -> Decimal:
    """``min(3, 1 + 100 × open_flags / population)``; 1 for an empty team or no open flags."""
    if population <= 0 or open_flags <= 0:
        return Decimal(1)
    weight = 1 + Decimal(100 * open_flags) / Decimal(population)
    return min(RISK_WEIGHT_CAP, weight.quantize(Decimal("0.0001")))


def team_sample_size(
    population: int,
    rate: Decimal = DEFAULT_RATE,
    minimum: int = DEFAULT_MINIMUM,
    risk_weight: Decimal | None = None,
) -> int:
    """A team's sample size: ``sample_size``, times its risk weight when that is above 1, capped."""
    size = sample_size(population, rate, minimum)
    if risk_weight is None:
        return size
    _check_weight(risk_weight, "风险权重")
    if risk_weight <= 1:
        return size
    raised = int((Decimal(size) * risk_weight).to_integral_value(rounding=ROUND_CEILING))
    return min(population, raised)


def _check_weight(weight: Decimal | int, what: str) -> None:
    if not Decimal(weight).is_finite() or weight < 0:
        raise SamplingError(f"{what}必须是非负的有限数，收到 {weight}")


def draw(
    candidates: Sequence[IdT],
    size: int,
    seed: int | str,
    weights: Mapping[IdT, Decimal | int] | None = None,
) -> list[IdT]:
    """Draw ``size`` candidates without replacement, in draw order (see the module docstring)."""
    if size < 0:
        raise SamplingError(f"抽样数量不能为负数，收到 {size}")
    seen: set[str] = set()
    for candidate in candidates:
        text = str(candidate)
        if text in seen:
            raise SamplingError(f"候选编号重复：{text}")
        seen.add(text)

    hashes = {candidate: candidate_hash(seed, candidate) for candidate in candidates}
    if weights is None:
        order = sorted(candidates, key=lambda c: hashes[c], reverse=True)
        return order[:size]

    keyed: list[tuple[Decimal, int, IdT]] = []
    for candidate in candidates:
        weight = weights.get(candidate, 1)
        _check_weight(weight, f"候选 {candidate} 的权重")
        if weight == 0:
            continue
        keyed.append(
            (_weighted_key(hashes[candidate], Decimal(weight)), hashes[candidate], candidate)
        )
    keyed.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [candidate for _, _, candidate in keyed[:size]]


def _weighted_key(hash_value: int, weight: Decimal) -> Decimal:
    """``ln(u) / w`` for ``u = (h + 1) / (2**256 + 1)``: larger keys are drawn first."""
    ctx = _KEY_CONTEXT
    u = ctx.divide(Decimal(hash_value + 1), _HASH_SPAN)
    return ctx.divide(ctx.ln(u), weight)


def draw_residents_per_team(
    team_to_residents: Mapping[GroupT, Sequence[IdT]],
    seed: int | str,
    rate: Decimal = DEFAULT_RATE,
    minimum: int = DEFAULT_MINIMUM,
    risk_weights: Mapping[GroupT, Decimal] | None = None,
) -> dict[GroupT, list[IdT]]:
    """The verification sample (抽查复核) of signed residents for every team (SPEC 6).

    Each team's sample is ``draw(its residents, team_sample_size(...), seed)``: the one seed is used
    for every team, so an auditor re-checks a team with that single call.
    """
    samples: dict[GroupT, list[IdT]] = {}
    for team, residents in team_to_residents.items():
        weight = None if risk_weights is None else risk_weights.get(team)
        size = team_sample_size(len(residents), rate, minimum, weight)
        samples[team] = draw(residents, size, seed)
    return samples


def draw_spot_check(
    county_to_institutions: Mapping[GroupT, Sequence[IdT]],
    seed: int | str,
    per_county: int = SPOT_CHECK_MINIMUM,
) -> dict[GroupT, list[IdT]]:
    """The municipal spot check (市级抽查, L4): ``per_county`` institutions per county, all if fewer."""
    if per_county < SPOT_CHECK_MINIMUM:
        raise SamplingError(f"每个县区至少抽取 {SPOT_CHECK_MINIMUM} 家机构，收到 {per_county}")
    return {
        county: draw(institutions, per_county, seed)
        for county, institutions in county_to_institutions.items()
    }
