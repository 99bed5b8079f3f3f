"""Verification sampling and calls (抽查复核), satisfaction surveys, record review, complaints.

Sampling (SPEC 6)
-----------------
A centre draws its quarter's sample (level L2, a quarter) and a county its half-year sample
(level L3, a half; 2026-H2 is the year-end check) for every team below it. Candidates are the
team's *signed residents of the period*: members of a contract that overlaps the period (not
terminated before it started) who are still ``active`` residents; a resident who changed team in
the period belongs to the team of their latest contract.

Each team's size is ``assessments.sampling.team_sample_size``: ``rate`` (config
``VERIFICATION_SAMPLE_RATE``, default 5%) of its candidates rounded up, at least ``minimum``
(``VERIFICATION_SAMPLE_MINIMUM``, default 20), raised by the team's **risk weight**::

    risk_weight = min(3, 1 + 100 × open_flags / candidates)     (1 when there are no candidates)

i.e. one more "standard sample" per open suspicion flag per 100 signed residents, capped at three
times the standard size. Within a team the draw is weighted by **each doctor's risk**
(``assessments.risk``; inputs read by ``fdoctor.surveys.risk``: the doctor's open flags, the
share of their verified records found false, a dispute in the previous period): a resident weighs
as much as the riskiest doctor who served them in the period, and a team gets ``WIDEN_PER_DOCTOR``
more residents per doctor disputed in the previous period. Each doctor's inputs and weight are
stored (``verification_sample_doctor``) so the draw replays. The draw is ``draw_residents_per_team`` with a fresh ``new_seed()``;
the seed, and per team the candidates count, open flags, weight and size, are stored so the draw
can be replayed (``replay_sample``). One sample per unit, level and period: drawing again returns
the existing one.

Calls: each sampled resident is asked the four-grade satisfaction question, whether they know
their family doctor, and about up to ``RECORDS_PER_CALL`` (3) of their team's service records of
the period, picked with ``draw(record ids, 3, seed=f"{sample seed}:{resident id}")``.
``not_received`` sends the record to the review queue (``disputed``); ``received`` confirms a
record still ``unverified``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import distinct, func, or_, select

from assessments.periods import Period, PeriodKind, PeriodNotEnded, ensure_period_ended
from assessments.risk import DoctorRisk, resident_weights, widened_size
from assessments.sampling import (
    DEFAULT_MINIMUM,
    DEFAULT_RATE,
    SamplingError,
    draw,
    new_seed,
    team_sample_size,
)
from assessments.tiers import Level
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.roles import Role
from fdoctor.core.scope import scope_clause
from fdoctor.core.signals import record_found_false
from fdoctor.extensions import db
from fdoctor.flags.services import open_flag_counts
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import (
    COMPLAINT_STATUSES,
    RECORD_CHECK_ANSWERS,
    REVIEW_DECISIONS,
    SATISFACTION_GRADES,
    Complaint,
    RecordReview,
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleDoctor,
    VerificationSampleItem,
    VerificationSampleTeam,
)
from fdoctor.surveys.risk import doctor_risks, doctors_of_residents, previous_period

RISK_WEIGHT_CAP = Decimal(3)
RECORDS_PER_CALL = 3
CALL_CHANNELS = ("phone", "visit")
ORDINARY_CHANNELS = ("visit", "self")
# Which level each role draws, and the kind of unit it draws for.
DRAW_LEVELS = {Role.CENTRE_ADMIN.value: Level.L2, Role.COUNTY_AUDITOR.value: Level.L3}
_LEVEL_UNIT_KIND = {Level.L2: "institution", Level.L3: "county"}
MAX_TEXT = 2000


class SurveyError(UserFacingError):
    """A user-facing error in Chinese; ``status`` is the HTTP status a view should answer."""


# ------------------------------------------------------------------ scope


def visible_units(user: Any | None = None) -> Any:
    """Ids of the org units the user may see (a subquery for ``IN``)."""
    return select(OrgUnit.id).where(scope_clause(OrgUnit, user))


def samples_in_scope(user: Any | None = None) -> Any:
    """Samples drawn by a unit the user sees (centre: its own; county: its own and its centres')."""
    return select(VerificationSample).where(VerificationSample.org_unit_id.in_(visible_units(user)))


# ------------------------------------------------------------------ sampling


def sample_rate() -> Decimal:
    return Decimal(str(current_app.config.get("VERIFICATION_SAMPLE_RATE", DEFAULT_RATE)))


def sample_minimum() -> int:
    return int(current_app.config.get("VERIFICATION_SAMPLE_MINIMUM", DEFAULT_MINIMUM))


def risk_weight(open_flags: int, population: int) -> Decimal:
    """``min(3, 1 + 100 × open_flags / population)``; 1 for an empty team."""
    if population <= 0 or open_flags <= 0:
        return Decimal(1)
    weight = 1 + Decimal(100 * open_flags) / Decimal(population)
    return min(RISK_WEIGHT_CAP, weight.quantize(Decimal("0.0001")))


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
        weights={t: risk_weight(flags.get(t, 0), len(candidates.get(t, []))) for t in teams},
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


# ------------------------------------------------------------------ calls


def sample_period(sample: VerificationSample) -> Period:
    return Period.parse(sample.period)


def records_to_check(item: VerificationSampleItem) -> list[ServiceRecord]:
    """Up to three of the resident's service records by the sampled team in the sample's period,
    picked with a draw seeded by the sample seed and the resident (the same every time), each
    record weighted by its doctor's stored risk: the call asks about the riskiest doctor's work."""
    sample = item.sample
    period = sample_period(sample)
    records = db.session.scalars(
        select(ServiceRecord).where(
            ServiceRecord.resident_id == item.resident_id,
            ServiceRecord.team_id == item.team_id,
            ServiceRecord.service_date >= period.start,
            ServiceRecord.service_date <= period.end,
            ServiceRecord.verification != "false",
        )
    ).all()
    by_id = {r.id: r for r in records}
    doctor_weights = stored_doctor_weights(sample)
    weights = {r.id: doctor_weights.get(r.doctor_id, Decimal(1)) for r in records}
    picked = draw(list(by_id), RECORDS_PER_CALL, f"{sample.seed}:{item.resident_id}", weights)
    return sorted((by_id[i] for i in picked), key=lambda r: (r.service_date, r.id))


def _check_grade(satisfaction: int | None) -> int:
    if satisfaction not in SATISFACTION_GRADES:
        raise SurveyError("请选择满意度：满意、较满意、一般或不满意")
    return satisfaction


def _check_text(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_TEXT:
        raise SurveyError(f"备注不能超过 {MAX_TEXT} 字")
    return comment


def record_call(
    item: VerificationSampleItem,
    user: Any,
    *,
    outcome: str,
    channel: str = "phone",
    satisfaction: int | None = None,
    knows_doctor: bool | None = None,
    answers: Mapping[int, str] | None = None,
    comment: str | None = None,
) -> SurveyResponse | None:
    """Record one verification call. ``outcome`` is ``done`` or ``unreachable``.

    ``done`` writes the response, one check per picked record, the records' verification states
    and the item's status; the caller commits once, or rolls back everything on an error.
    """
    if item.status == "done":
        raise SurveyError("该居民已完成回访，不能重复登记", status=409)
    if outcome == "unreachable":
        item.status = "unreachable"
        db.session.flush()
        return None
    if outcome != "done":
        raise SurveyError("请选择回访结果：已接通或无法联系")
    if channel not in CALL_CHANNELS:
        raise SurveyError("回访方式应为电话或入户")
    grade = _check_grade(satisfaction)
    if knows_doctor is None:
        raise SurveyError("请选择居民是否知道自己的家庭医生")
    comment = _check_text(comment)
    answers = dict(answers or {})
    records = records_to_check(item)
    if set(answers) != {r.id for r in records}:
        raise SurveyError("请逐条回答抽取的服务记录（记录如有变化，请刷新页面后重试）")
    team = db.session.get(OrgUnit, item.team_id)
    assert team is not None and team.institution_id is not None and team.county_id is not None
    today = clock.today()
    response = SurveyResponse(
        resident_id=item.resident_id,
        period=item.sample.period,
        surveyed_on=today,
        channel=channel,
        surveyor_id=user.id,
        sample_item_id=item.id,
        satisfaction=grade,
        knows_doctor=knows_doctor,
        comment=comment,
        created_at=clock.now(),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(response)
    db.session.flush()
    for record in records:
        answer = answers[record.id]
        if answer not in RECORD_CHECK_ANSWERS:
            raise SurveyError(f"服务记录 #{record.id} 的回答无效：应为已接受、未接受或不确定")
        db.session.add(
            SurveyRecordCheck(response_id=response.id, service_record_id=record.id, answer=answer)
        )
        if answer == "not_received" and record.verification in ("unverified", "confirmed"):
            record.verification = "disputed"
        elif answer == "received" and record.verification == "unverified":
            record.verification = "confirmed"
    item.status = "done"
    db.session.flush()
    return response


def item_response(item: VerificationSampleItem) -> SurveyResponse | None:
    return db.session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.sample_item_id == item.id)
        .order_by(SurveyResponse.id.desc())
    )


def record_survey(
    resident: Resident,
    user: Any,
    *,
    channel: str,
    surveyed_on: date,
    satisfaction: int | None,
    knows_doctor: bool | None,
    comment: str | None = None,
) -> SurveyResponse:
    """An ordinary satisfaction survey (入户 or 自助), outside any sample. Flushes."""
    if channel not in ORDINARY_CHANNELS:
        raise SurveyError("调查方式应为入户或自助")
    if surveyed_on > clock.today():
        raise SurveyError("调查日期不能晚于今天")
    if resident.team_id is None:
        raise SurveyError("该居民尚未归属家庭医生团队，无法登记调查")
    grade = _check_grade(satisfaction)
    if knows_doctor is None:
        raise SurveyError("请选择居民是否知道自己的家庭医生")
    response = SurveyResponse(
        resident_id=resident.id,
        period=str(Period.containing(PeriodKind.QUARTER, surveyed_on)),
        surveyed_on=surveyed_on,
        channel=channel,
        surveyor_id=user.id,
        satisfaction=grade,
        knows_doctor=knows_doctor,
        comment=_check_text(comment),
        created_at=clock.now(),
        county_id=resident.county_id,
        institution_id=resident.institution_id,
        team_id=resident.team_id,
    )
    db.session.add(response)
    db.session.flush()
    return response


# ------------------------------------------------------------------ review queue


def review_record(record: ServiceRecord, decision: str, reason: str, user: Any) -> RecordReview:
    """Settle a disputed record: ``confirmed`` or ``false`` (a reason is required for false)."""
    if decision not in REVIEW_DECISIONS:
        raise SurveyError("请选择“核实属实”或“认定虚假”")
    reason = (reason or "").strip()
    if decision == "false" and not reason:
        raise SurveyError("认定虚假须填写理由")
    if len(reason) > MAX_TEXT:
        raise SurveyError(f"理由不能超过 {MAX_TEXT} 字")
    if record.verification != "disputed":
        raise SurveyError("该记录不在待复核状态", status=409)
    record.verification = decision
    review = RecordReview(
        service_record_id=record.id,
        decision=decision,
        reason=reason or None,
        reviewed_by_id=user.id,
        reviewed_at=clock.now(),
        county_id=record.county_id,
        institution_id=record.institution_id,
        team_id=record.team_id,
    )
    db.session.add(review)
    db.session.flush()
    if decision == "false":
        record_found_false.send(record, user=user)
    return review


@dataclass(frozen=True)
class DisputeEvidence:
    """Why a record is disputed: the latest call answer about it."""

    answer: str
    surveyed_on: date


def dispute_evidence(record_ids: Iterable[int]) -> dict[int, DisputeEvidence]:
    """The latest call answer per record (one query for a page of the review queue)."""
    ids = list(record_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            SurveyRecordCheck.service_record_id,
            SurveyRecordCheck.answer,
            SurveyResponse.surveyed_on,
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyRecordCheck.response_id)
        .where(SurveyRecordCheck.service_record_id.in_(ids))
        .order_by(SurveyResponse.surveyed_on, SurveyRecordCheck.id)
    ).all()
    return {rid: DisputeEvidence(answer, day) for rid, answer, day in rows}


# ------------------------------------------------------------------ report


@dataclass(frozen=True)
class TeamVerification:
    """A team's verification figures for one sample period and level."""

    team_id: int
    team_name: str
    sampled: int
    called: int
    unreachable: int
    checked: int
    not_received: int
    false_records: int

    @property
    def coverage(self) -> float | None:
        return self.called / self.sampled if self.sampled else None

    @property
    def false_rate(self) -> float | None:
        return self.false_records / self.checked if self.checked else None


def verification_report(sample_ids: Iterable[int]) -> list[TeamVerification]:
    """Per team over the given samples: coverage = called / sampled residents; false-record rate =
    records checked by these calls that are now ``false`` / records checked. Three grouped queries.
    """
    ids = list(sample_ids)
    if not ids:
        return []
    Item = VerificationSampleItem
    items = db.session.execute(
        select(
            Item.team_id,
            func.count(Item.id),
            func.count(Item.id).filter(Item.status == "done"),
            func.count(Item.id).filter(Item.status == "unreachable"),
        )
        .where(Item.sample_id.in_(ids))
        .group_by(Item.team_id)
    ).all()
    checks = db.session.execute(
        select(
            Item.team_id,
            func.count(distinct(SurveyRecordCheck.service_record_id)),
            func.count(distinct(SurveyRecordCheck.service_record_id)).filter(
                SurveyRecordCheck.answer == "not_received"
            ),
            func.count(distinct(SurveyRecordCheck.service_record_id)).filter(
                ServiceRecord.verification == "false"
            ),
        )
        .join(SurveyResponse, SurveyResponse.sample_item_id == Item.id)
        .join(SurveyRecordCheck, SurveyRecordCheck.response_id == SurveyResponse.id)
        .join(ServiceRecord, ServiceRecord.id == SurveyRecordCheck.service_record_id)
        .where(Item.sample_id.in_(ids))
        .group_by(Item.team_id)
    ).all()
    by_team = {row[0]: row[1:] for row in checks}
    names = dict(
        db.session.execute(
            select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_([row[0] for row in items]))
        ).all()
    )
    report = []
    for team_id, sampled, called, unreachable in items:
        checked, not_received, false_records = by_team.get(team_id, (0, 0, 0))
        report.append(
            TeamVerification(
                team_id=team_id,
                team_name=names.get(team_id, str(team_id)),
                sampled=sampled,
                called=called,
                unreachable=unreachable,
                checked=checked,
                not_received=not_received,
                false_records=false_records,
            )
        )
    report.sort(key=lambda row: (row.team_name, row.team_id))
    return report


# ------------------------------------------------------------------ complaints


def teams_in_scope(user: Any | None = None) -> list[OrgUnit]:
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == "team", scope_clause(OrgUnit, user))
            .order_by(OrgUnit.code)
        )
    )


def doctors_in_scope(user: Any | None = None) -> list[User]:
    teams = select(OrgUnit.id).where(OrgUnit.kind == "team", scope_clause(OrgUnit, user))
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.org_unit_id.in_(teams),
                User.role.in_((Role.DOCTOR.value, Role.TEAM_LEADER.value)),
            )
            .order_by(User.org_unit_id, User.display_name, User.id)
        )
    )


def record_complaint(
    user: Any,
    *,
    team: OrgUnit,
    received_on: date,
    channel: str,
    content: str,
    complainant: str | None = None,
    doctor: User | None = None,
) -> Complaint:
    """Record a complaint against a team (and optionally one of its doctors). Flushes."""
    if team.kind != "team":
        raise SurveyError("请选择被投诉的家庭医生团队")
    if received_on > clock.today():
        raise SurveyError("受理日期不能晚于今天")
    content = (content or "").strip()
    if not content:
        raise SurveyError("请填写投诉内容")
    if len(content) > MAX_TEXT:
        raise SurveyError(f"投诉内容不能超过 {MAX_TEXT} 字")
    channel = (channel or "").strip()
    if not channel or len(channel) > 32:
        raise SurveyError("请选择投诉渠道")
    if doctor is not None and doctor.org_unit_id != team.id:
        raise SurveyError("所选医生不属于被投诉的团队")
    assert team.county_id is not None and team.institution_id is not None
    complaint = Complaint(
        doctor_id=doctor.id if doctor is not None else None,
        received_on=received_on,
        channel=channel,
        complainant=(complainant or "").strip()[:50] or None,
        content=content,
        status="open",
        recorded_by_id=user.id,
        created_at=clock.now(),
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(complaint)
    db.session.flush()
    return complaint


def resolve_complaint(complaint: Complaint, decision: str, resolution: str, user: Any) -> Complaint:
    """Verify (属实, counts for C1) or reject an open complaint, with the resolution text."""
    if decision not in ("verified", "rejected"):
        raise SurveyError("请选择核实结论：属实或不属实")
    resolution = (resolution or "").strip()
    if not resolution:
        raise SurveyError("请填写处理结果")
    if len(resolution) > MAX_TEXT:
        raise SurveyError(f"处理结果不能超过 {MAX_TEXT} 字")
    if complaint.status != "open":
        label = COMPLAINT_STATUSES.get(complaint.status, complaint.status)
        raise SurveyError(f"该投诉已处理（{label}），不能重复处理", status=409)
    complaint.status = decision
    complaint.resolution = resolution
    complaint.resolved_by_id = user.id
    complaint.resolved_at = clock.now()
    db.session.flush()
    return complaint
