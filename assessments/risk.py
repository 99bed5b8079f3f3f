"""Risk-based verification (基于风险的抽查复核): where the call-back sample looks hardest.

Verification-based financing checks a sample of the work it pays for, and looks hardest where
work is most likely to be padded. A doctor's risk comes from what is already known about their
records; the sample of a team's signed residents is drawn with each resident weighted by the risk
of the doctors who recorded services for them in the period, and the calls ask about those
doctors' records first. The rule, with its constants (each a parameter of ``doctor_weight``):

* **open flags**: every open suspicion flag on the doctor's records adds ``FLAG_STEP`` (0.25);
* **past gap between declared and verified**: of the doctor's records with a verification outcome
  in the last twelve months (``checked``: confirmed or found false), the share found false, smoothed
  towards zero by ``PRIOR`` (10) imaginary confirmed records so that one false record out of two
  does not look like a 50% fraud rate, times ``GAP_FACTOR`` (10):
  ``GAP_FACTOR × false / (checked + PRIOR)``;
* **a dispute in the previous period** (a resident said a record of the doctor's did not happen,
  whether still under review or found false) adds ``DISPUTE_STEP`` (1) — and widens the team's next
  sample by ``WIDEN_PER_DOCTOR`` (5) residents per such doctor;

``weight = min(DOCTOR_CAP, 1 + flags + gap + dispute)``, at least 1: an honest doctor's residents
are drawn as often as under a uniform draw, a risky doctor's up to ``DOCTOR_CAP`` (4) times as
often. A resident's weight is the largest weight of the doctors who recorded services for them in
the period (1 if none did). Everything here is a pure function of stored inputs, so a draw is
replayed from the stored doctor weights and the period's records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

__all__ = [
    "DISPUTE_STEP",
    "DOCTOR_CAP",
    "FLAG_STEP",
    "GAP_FACTOR",
    "PRIOR",
    "WIDEN_PER_DOCTOR",
    "DoctorRisk",
    "doctor_weight",
    "resident_weights",
    "widened_size",
]

FLAG_STEP = Decimal("0.25")
GAP_FACTOR = Decimal(10)
PRIOR = 10
DISPUTE_STEP = Decimal(1)
DOCTOR_CAP = Decimal(4)
WIDEN_PER_DOCTOR = 5

_QUANTUM = Decimal("0.0001")

IdT = TypeVar("IdT")


@dataclass(frozen=True)
class DoctorRisk:
    """What is known about one doctor's records when a sample is drawn."""

    open_flags: int = 0
    checked: int = 0  # records with a verification outcome in the last 12 months
    found_false: int = 0  # of those, found false
    disputed_before: int = 0  # records disputed or found false in the previous period

    def __post_init__(self) -> None:
        for name in ("open_flags", "checked", "found_false", "disputed_before"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.found_false > self.checked:
            raise ValueError("found_false cannot exceed checked")

    @property
    def weight(self) -> Decimal:
        return doctor_weight(self)

    def explain(self) -> str:
        """The weight and its reasons, in Chinese, for the sample page."""
        parts = []
        if self.open_flags:
            parts.append(f"未处理疑点 {self.open_flags} 条")
        if self.found_false:
            parts.append(f"近12个月核实 {self.checked} 条中 {self.found_false} 条不实")
        if self.disputed_before:
            parts.append(f"上期被居民否认 {self.disputed_before} 条")
        reasons = "；".join(parts) if parts else "无风险记录"
        return f"权重 {self.weight.normalize():f}（{reasons}）"


def doctor_weight(
    risk: DoctorRisk,
    *,
    flag_step: Decimal = FLAG_STEP,
    gap_factor: Decimal = GAP_FACTOR,
    prior: int = PRIOR,
    dispute_step: Decimal = DISPUTE_STEP,
    cap: Decimal = DOCTOR_CAP,
) -> Decimal:
    """``min(cap, 1 + flag_step × flags + gap_factor × false / (checked + prior) + dispute)``."""
    weight = Decimal(1) + flag_step * risk.open_flags
    if risk.found_false:
        weight += gap_factor * Decimal(risk.found_false) / Decimal(risk.checked + prior)
    if risk.disputed_before:
        weight += dispute_step
    return min(cap, weight).quantize(_QUANTUM, rounding=ROUND_HALF_UP)


def resident_weights(
    doctors_of: Mapping[IdT, Iterable[int]], weights: Mapping[int, Decimal]
) -> dict[IdT, Decimal]:
    """Each resident's weight: the largest weight of the doctors who served them (1 if none).

    Only residents whose weight is above 1 are returned (``sampling.draw`` treats a missing
    candidate as weight 1).
    """
    result: dict[IdT, Decimal] = {}
    for resident, doctors in doctors_of.items():
        weight = max((weights.get(d, Decimal(1)) for d in doctors), default=Decimal(1))
        if weight > 1:
            result[resident] = weight
    return result


def widened_size(
    size: int, population: int, disputed_doctors: int, per_doctor: int = WIDEN_PER_DOCTOR
) -> int:
    """The team's size after a dispute: ``per_doctor`` more residents for each doctor disputed in
    the previous period, never more than the team's signed residents."""
    if disputed_doctors < 0 or per_doctor < 0:
        raise ValueError("disputed_doctors and per_doctor must not be negative")
    return min(population, size + per_doctor * disputed_doctors)
