"""Verification samples (抽查复核): drawing a sample, replaying it, and its doctors.

Sampling (SPEC 6)
-----------------
A centre draws its quarter's sample (level L2, a quarter) and a county its half-year sample
(level L3, a half; 2026-H2 is the year-end check) for every team below it. Candidates are the
team's *signed residents of the period*: members of a contract that overlaps the period (not
terminated before it started) who are still ``active`` residents; a resident who changed team in
the period belongs to the team of their latest contract.

Each team's size is ``assessments.sampling.team_sample_size``: ``rate`` (config
``VERIFICATION_SAMPLE_RATE``, default 5%) of its candidates rounded up, at least ``minimum``
(``VERIFICATION_SAMPLE_MINIMUM``, default 20), raised by the team's **risk weight**
(``assessments.sampling.team_risk_weight``)::

    risk_weight = min(3, 1 + 100 × open_flags / candidates)     (1 when there are no candidates)

i.e. one more "standard sample" per open suspicion flag per 100 signed residents, capped at three
times the standard size. Within a team the draw is weighted by **each doctor's risk**
(``assessments.risk``; inputs read by ``fdoctor.surveys.risk``: the doctor's open flags, the
share of their verified records found false, a dispute in the previous period): a resident weighs
as much as the riskiest doctor who served them in the period, and a team gets ``WIDEN_PER_DOCTOR``
more residents per doctor disputed in the previous period. Each doctor's inputs and weight are
stored (``verification_sample_doctor``) so the draw replays. Each team's residents are drawn
with ``assessments.sampling.draw`` (weighted by those risks) from one fresh ``new_seed()``; the
seed, and per team the candidates count, open flags, weight and size, are stored so the draw can
be replayed (``replay_sample``). One sample per unit, level and period: drawing again returns
the existing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from assessments.periods import Period, PeriodKind, PeriodNotEnded, ensure_period_ended
from assessments.risk import DoctorRisk, resident_weights, widened_size
from assessments.sampling import (
    DEFAULT_MINIMUM,
    DEFAULT_RATE,
    SamplingError,
    draw,
    new_seed,
    team_risk_weight,
    team_sample_size,
)
from assessments.tiers import Level
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.flags.services import open_flag_counts
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.models import (
    VerificationSample,
    VerificationSampleDoctor,
    VerificationSampleItem,
    VerificationSampleTeam,
)
from fdoctor.surveys.risk import doctor_risks, doctors_of_residents, previous_period

# Which level each role draws, and the kind of unit it draws for.
DRAW_LEVELS = {Role.CENTRE_ADMIN.value: Level.L2, Role.COUNTY_AUDITOR.value: Level.L3}
_LEVEL_UNIT_KIND = {Level.L2: "institution", Level.L3: "county"}


def visible_units(user: Any | None = None) -> Any:
    """Ids of the org units the user may see (a subquery for ``IN``)."""
    return select(OrgUnit.id).where(scope_clause(OrgUnit, user))


def samples_in_scope(user: Any | None = None) -> Any:
    """Samples drawn by a unit the user sees (centre: its own; county: its own and its centres')."""
    return select(VerificationSample).where(VerificationSample.org_unit_id.in_(visible_units(user)))


def sample_rate() -> Decimal:
    return Decimal(str(current_app.config.get("VERIFICATION_SAMPLE_RATE", DEFAULT_RATE)))


def sample_minimum() -> int:
    return int(current_app.config.get("VERIFICATION_SAMPLE_MINIMUM", DEFAULT_MINIMUM))


def drawable_periods(level: Level, today: date | None = None, count: int = 4) -> list[Period]:
    """The last ``count`` periods of the level's kind that have ended, latest first."""
    today = today or clock.today()
    period = Period.containing(level.period_kind, today)
    periods = []
    while len(periods) < count:
        period = previous_period(period)
        periods.append(period)
    return periods


def period_candidates(unit: OrgUnit, level: Level, period: Period) -> dict[int, list[int]]:
    """Signed residents of the period per team under ``unit`` (see the module docstring)."""
    column = ContractMember.institution_id if level is Level.L2 else ContractMember.county_id
    rows = db.session.execute(
        select(ContractMember.team_id, ContractMember.resident_id)
        .join(Contract, Contract.id == ContractMember.contract_id)
        .join(Resident, Resident.id == ContractMember.resident_id)
        .where(
            column == unit.id,
            ContractMember.team_id.is_not(None),
            Resident.status == "active",
            Contract.start_date <= period.end,
            Contract.end_date >= period.start,
            or_(Contract.status != "terminated", Contract.terminated_on >= period.start),
        )
        .order_by(Contract.start_date, ContractMember.id)
    ).all()
    team_of: dict[int, int] = {}
    for team_id, resident_id in rows:
        team_of[resident_id] = team_id  # ordered by start date: the latest contract wins
    candidates: dict[int, list[int]] = {}
    for resident_id, team_id in team_of.items():
        candidates.setdefault(team_id, []).append(resident_id)
    return candidates


def _teams_under(unit: OrgUnit, level: Level) -> list[int]:
    column = OrgUnit.institution_id if level is Level.L2 else OrgUnit.county_id
    return list(
        db.session.scalars(
            select(OrgUnit.id)
            .where(OrgUnit.kind == "team", OrgUnit.active, column == unit.id)
            .order_by(OrgUnit.id)
        )
    )


def find_sample(unit: OrgUnit, level: Level, period: Period) -> VerificationSample | None:
    return db.session.scalar(
        select(VerificationSample).where(
            VerificationSample.org_unit_id == unit.id,
            VerificationSample.level == level.value,
            VerificationSample.period == str(period),
        )
    )


def _check_draw(unit: OrgUnit, level: Level, period: Period) -> None:
    if level not in _LEVEL_UNIT_KIND:
        raise SurveyError("抽查只在中心季度考核（L2）和县区半年考核（L3）进行")
    if unit.kind != _LEVEL_UNIT_KIND[level]:
        raise SurveyError(
            f"{level.label}的抽查须由{'医疗机构' if level is Level.L2 else '县区'}发起"
        )
    if period.kind is not PeriodKind(level.period_kind):
        raise SurveyError(f"{level.label}的抽查周期应为{level.period_kind.label}")
    try:
        ensure_period_ended(period, clock.today(), "抽样")
    except PeriodNotEnded as exc:
        raise SurveyError(str(exc)) from None


@dataclass
class _Draw:
    """A draw before it is stored: per team its candidates, flags, weight, the doctors who served
    its residents and their risks, and the residents drawn."""

    seed: int
    teams: list[int]
    candidates: dict[int, list[int]]
    flags: dict[int, int]
    weights: dict[int, Decimal]
    served: dict[int, dict[int, set[int]]]
    risks: dict[int, DoctorRisk]
    widened: dict[int, int]
    drawn: dict[int, list[int]]

    def doctors(self, team_id: int) -> list[int]:
        return sorted({d for ds in self.served.get(team_id, {}).values() for d in ds})


def _plan_draw(
    unit: OrgUnit, level: Level, period: Period, rate: Decimal, minimum: int, seed: int
) -> _Draw:
    """Who is drawn (see the module docstring): the team's size raised by its open flags and
    widened after a dispute, its residents weighted by their doctors' risk."""
    candidates = period_candidates(unit, level, period)
    teams = sorted(set(_teams_under(unit, level)) | set(candidates))
    flags = open_flag_counts(teams)
    served = doctors_of_residents(teams, period)
    plan = _Draw(
        seed=seed,
        teams=teams,
        candidates=candidates,
        flags=flags,
        weights={t: team_risk_weight(flags.get(t, 0), len(candidates.get(t, []))) for t in teams},
        served=served,
        risks=doctor_risks({d for t in served.values() for ds in t.values() for d in ds}, period),
        widened={},
        drawn={},
    )
    try:
        for team_id in teams:
            residents = candidates.get(team_id, [])
            base = team_sample_size(len(residents), rate, minimum, plan.weights[team_id])
            disputed = sum(1 for d in plan.doctors(team_id) if plan.risks[d].disputed_before)
            size = widened_size(base, len(residents), disputed)
            plan.widened[team_id] = size - base
            weights = _resident_weights(team_id, served, plan.risks)
            plan.drawn[team_id] = draw(residents, size, seed, weights)
    except SamplingError as exc:
        raise SurveyError(str(exc)) from None
    return plan


def _store_draw(sample: VerificationSample, plan: _Draw) -> None:
    """The sample's teams, doctors and residents, as drawn (the inputs a replay needs)."""
    for team_id in plan.teams:
        residents = plan.drawn[team_id]
        db.session.add(
            VerificationSampleTeam(
                sample_id=sample.id,
                team_id=team_id,
                population=len(plan.candidates.get(team_id, [])),
                open_flags=plan.flags.get(team_id, 0),
                risk_weight=str(plan.weights[team_id]),
                size=len(residents),
                widened=plan.widened[team_id],
            )
        )
        for doctor_id in plan.doctors(team_id):
            risk = plan.risks[doctor_id]
            db.session.add(
                VerificationSampleDoctor(
                    sample_id=sample.id,
                    team_id=team_id,
                    doctor_id=doctor_id,
                    open_flags=risk.open_flags,
                    checked=risk.checked,
                    found_false=risk.found_false,
                    disputed_before=risk.disputed_before,
                    weight=str(risk.weight),
                )
            )
        for order, resident_id in enumerate(residents, start=1):
            db.session.add(
                VerificationSampleItem(
                    sample_id=sample.id,
                    team_id=team_id,
                    resident_id=resident_id,
                    draw_order=order,
                    status="pending",
                )
            )


def draw_sample(
    unit: OrgUnit,
    level: Level,
    period: Period,
    user: Any,
    rate: Decimal | None = None,
    minimum: int | None = None,
    seed: int | None = None,
) -> tuple[VerificationSample, bool]:
    """Draw (or return the existing) sample of ``unit`` for ``period``; ``(sample, created)``.

    Refused before the period has ended, by the clock's today (``ensure_period_ended``). A
    ``seed`` is for benchmarks that must replay; the app draws with a fresh one.

    Flushes; the caller commits (and, should a concurrent draw win the unique constraint, rolls
    back and loads that one with ``find_sample``).
    """
    level = Level(level)
    _check_draw(unit, level, period)
    existing = find_sample(unit, level, period)
    if existing is not None:
        return existing, False
    rate = sample_rate() if rate is None else rate
    minimum = sample_minimum() if minimum is None else minimum
    plan = _plan_draw(unit, level, period, rate, minimum, new_seed() if seed is None else seed)
    sample = VerificationSample(
        org_unit_id=unit.id,
        county_id=unit.county_id,
        level=level.value,
        period=str(period),
        seed=plan.seed,
        rate=str(rate),
        minimum=minimum,
        drawn_at=clock.now(),
        drawn_by_id=user.id,
    )
    db.session.add(sample)
    db.session.flush()
    _store_draw(sample, plan)
    db.session.flush()
    return sample, True


def _resident_weights(
    team_id: int, served: dict[int, dict[int, set[int]]], risks: Mapping[int, DoctorRisk]
) -> dict[int, Decimal]:
    return resident_weights(
        served.get(team_id, {}), {doctor: risk.weight for doctor, risk in risks.items()}
    )


@dataclass(frozen=True)
class SampleDoctor:
    """A doctor's row on the sample page: who, which team, weight and why."""

    team_id: int
    name: str
    weight: Decimal
    explanation: str
    widened: bool


def sample_doctors(sample: VerificationSample) -> list[SampleDoctor]:
    """The sample's doctors, riskiest first (the inputs stored when it was drawn)."""
    rows = db.session.execute(
        select(VerificationSampleDoctor, User.display_name)
        .join(User, User.id == VerificationSampleDoctor.doctor_id)
        .where(VerificationSampleDoctor.sample_id == sample.id)
    ).all()
    doctors = []
    for row, name in rows:
        risk = DoctorRisk(row.open_flags, row.checked, row.found_false, row.disputed_before)
        doctors.append(
            SampleDoctor(
                row.team_id, name, Decimal(row.weight), risk.explain(), risk.disputed_before > 0
            )
        )
    return sorted(doctors, key=lambda d: (-d.weight, d.team_id, d.name))


def stored_doctor_weights(sample: VerificationSample) -> dict[int, Decimal]:
    """The doctors' weights stored with the sample (a doctor has one weight per sample)."""
    return {
        doctor_id: Decimal(weight)
        for doctor_id, weight in db.session.execute(
            select(VerificationSampleDoctor.doctor_id, VerificationSampleDoctor.weight).where(
                VerificationSampleDoctor.sample_id == sample.id
            )
        )
    }


def replay_sample(sample: VerificationSample) -> dict[int, list[int]] | None:
    """Recompute the draw from the stored seed and team sizes; ``None`` if sizes were not stored.

    Compare with ``stored_draw(sample)``: equal when the candidates of the period are unchanged.
    """
    if not sample.teams:
        return None
    unit = db.session.get(OrgUnit, sample.org_unit_id)
    level = Level(sample.level)
    period = Period.parse(sample.period, expect=level.period_kind)
    assert unit is not None
    candidates = period_candidates(unit, level, period)
    served = doctors_of_residents([part.team_id for part in sample.teams], period)
    weights = stored_doctor_weights(sample)
    return {
        part.team_id: draw(
            candidates.get(part.team_id, []),
            part.size,
            sample.seed,
            resident_weights(served.get(part.team_id, {}), weights),
        )
        for part in sample.teams
    }


def stored_draw(sample: VerificationSample) -> dict[int, list[int]]:
    """The sample's residents per team, in draw order."""
    rows = db.session.execute(
        select(VerificationSampleItem.team_id, VerificationSampleItem.resident_id)
        .where(VerificationSampleItem.sample_id == sample.id)
        .order_by(VerificationSampleItem.team_id, VerificationSampleItem.draw_order)
    ).all()
    result: dict[int, list[int]] = {part.team_id: [] for part in sample.teams}
    for team_id, resident_id in rows:
        result.setdefault(team_id, []).append(resident_id)
    return result
