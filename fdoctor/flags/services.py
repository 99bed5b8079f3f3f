"""Suspicion flags (疑点): detection with grouped SQL, listing, and the centre's decision.

The five kinds and their exact rules (``detect_flags(start, end)`` looks at one period):

* ``backdated`` (集中补录): a record *late* — entered on or after the 8th day after its service date
  (``entered_at >= service_date + 8 days``) — and entered in a *batch*: some 60-minute interval
  ``[t, t + 60 min]`` holds at least ``BATCH_MIN`` (5) late records entered by the same user,
  this one among them. Looks at records entered within the period.
* ``duplicate`` (同日重复): the same resident and service type on the same service date more than
  once; every record after the first (lowest id) of the group is flagged. Service date in the period.
* ``velocity`` (录入过快): visit-type services (``VISIT_TYPES``: home visits, follow-ups, checkups,
  maternal visits) entered by one user form a *run* when each was entered less than
  ``VELOCITY_GAP_SECONDS`` (3 minutes) after the previous one; every record of a run of at least
  ``VELOCITY_MIN`` (5) is flagged when the run is *live*: all its records have one service date
  and were entered on that day. A sitting that types up paper forms of past days (several service
  dates, or entered after the service day) is not a pace. Entered within the period.
* ``outside_grid`` (非责任网格): the record's doctor is neither the household's responsible doctor
  nor a member of the household's team (the doctor's unit is not the household's team). Service
  date in the period.
* ``signed_not_served`` (签而不约): a contract now ``active``, started at least 12 months before the
  period's end, with no counting service (verification ``unverified`` or ``confirmed``, as A3) of
  the contract or of one of its members in the 12 months up to the period's end. One flag per
  contract and year of the period's end.

The field detectors (``fdoctor/flags/detectors.py`` over the pure rules of
``assessments/detectors.py``, parameters in ``FLAG_RULES``) add the kinds ``volume``,
``near_duplicate``, ``copied_reading``, ``implausible_reading``, ``threshold_cluster``,
``digit_preference``, ``shared_phone``, ``unaware_resident``, ``unreachable``,
``no_first_service`` and ``clock_skew``; see ``docs/flags.md``.

Records already found false are left out of every rule. A flag's subject key is unique per kind,
so re-running detection adds nothing; flags are never deleted, only dismissed or confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
    union,
)

from assessments.care_schedule.dates import add_months
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock, dialect
from fdoctor.core.errors import UserFacingError
from fdoctor.extensions import db
from fdoctor.flags.models import FLAG_DECISIONS, SuspicionFlag
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import SERVICE_TYPES, ServiceRecord

LATE_DAYS = 7
BATCH_WINDOW_SECONDS = 3600
BATCH_MIN = 5
VELOCITY_GAP_SECONDS = 180
VELOCITY_MIN = 5
VISIT_TYPES = (
    "home_visit",
    "hypertension_followup",
    "diabetes_followup",
    "elderly_checkup",
    "child_checkup",
    "maternal_visit",
    "mental_followup",
    "tb_followup",
)
COUNTING_STATES = ("unverified", "confirmed")
_KEY_CHUNK = 500


class FlagError(UserFacingError):
    """A user-facing error in Chinese; ``status`` is the HTTP status a view should answer."""


# ------------------------------------------------------------------ SQL helpers


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


@dataclass(frozen=True)
class _Candidate:
    kind: str
    subject_key: str
    county_id: int
    institution_id: int
    team_id: int | None
    subject_date: date
    detail: str
    user_id: int | None = None
    service_record_id: int | None = None
    contract_id: int | None = None


def _record_filters(county_id: int | None, institution_id: int | None) -> list[Any]:
    filters: list[Any] = [ServiceRecord.verification != "false"]
    if county_id is not None:
        filters.append(ServiceRecord.county_id == county_id)
    if institution_id is not None:
        filters.append(ServiceRecord.institution_id == institution_id)
    return filters


def _record_candidate(kind: str, row: Any, detail: str, user_id: int | None) -> _Candidate:
    return _Candidate(
        kind=kind,
        subject_key=f"record:{row.id}",
        county_id=row.county_id,
        institution_id=row.institution_id,
        team_id=row.team_id,
        subject_date=row.service_date,
        detail=detail,
        user_id=user_id,
        service_record_id=row.id,
    )


_RECORD_COLUMNS = (
    ServiceRecord.id,
    ServiceRecord.county_id,
    ServiceRecord.institution_id,
    ServiceRecord.team_id,
    ServiceRecord.service_date,
    ServiceRecord.type,
    ServiceRecord.entered_at,
    ServiceRecord.entered_by_id,
    ServiceRecord.doctor_id,
)


def _type_label(code: str) -> str:
    return SERVICE_TYPES.get(code, ("", code))[1]


# ------------------------------------------------------------------ the five rules


def _backdated(start: date, end: date, filters: list[Any]) -> list[_Candidate]:
    entered_epoch = dialect.epoch_seconds(ServiceRecord.entered_at)
    late = (
        select(
            ServiceRecord.id.label("id"),
            ServiceRecord.entered_by_id.label("uid"),
            entered_epoch.label("t"),
        )
        .where(
            *filters,
            ServiceRecord.entered_at >= _day_start(start),
            ServiceRecord.entered_at < _day_start(end + timedelta(days=1)),
            entered_epoch
            >= dialect.epoch_seconds(ServiceRecord.service_date) + (LATE_DAYS + 1) * 86400,
        )
        .cte("late")
    )
    a, b, r = late.alias("a"), late.alias("b"), late.alias("r")
    # An anchor opens a 60-minute interval holding at least BATCH_MIN late records of one user.
    anchors = (
        select(a.c.uid, a.c.t, func.count(b.c.id).label("n"))
        .join(b, and_(b.c.uid == a.c.uid, b.c.t >= a.c.t, b.c.t <= a.c.t + BATCH_WINDOW_SECONDS))
        .group_by(a.c.id, a.c.uid, a.c.t)
        .having(func.count(b.c.id) >= BATCH_MIN)
        .subquery("anchors")
    )
    in_batch = (
        select(r.c.id.label("id"), func.max(anchors.c.n).label("n"))
        .join(
            anchors,
            and_(
                anchors.c.uid == r.c.uid,
                r.c.t >= anchors.c.t,
                r.c.t <= anchors.c.t + BATCH_WINDOW_SECONDS,
            ),
        )
        .group_by(r.c.id)
        .subquery("in_batch")
    )
    rows = db.session.execute(
        select(*_RECORD_COLUMNS, in_batch.c.n)
        .join(in_batch, in_batch.c.id == ServiceRecord.id)
        .order_by(ServiceRecord.id)
    ).all()
    result = []
    for row in rows:
        days = (row.entered_at.date() - row.service_date).days
        detail = (
            f"{_type_label(row.type)}：服务日期 {row.service_date.isoformat()}，"
            f"录入于 {row.entered_at:%Y-%m-%d %H:%M}（晚 {days} 天）；"
            f"同一录入人 1 小时内集中补录 {row.n} 条"
        )
        result.append(_record_candidate("backdated", row, detail, row.entered_by_id))
    return result


def _duplicates(start: date, end: date, filters: list[Any]) -> list[_Candidate]:
    groups = (
        select(
            ServiceRecord.resident_id,
            ServiceRecord.type,
            ServiceRecord.service_date,
            func.min(ServiceRecord.id).label("first_id"),
            func.count(ServiceRecord.id).label("n"),
        )
        .where(
            *filters,
            ServiceRecord.resident_id.is_not(None),
            ServiceRecord.service_date >= start,
            ServiceRecord.service_date <= end,
        )
        .group_by(ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date)
        .having(func.count(ServiceRecord.id) >= 2)
        .subquery("groups")
    )
    rows = db.session.execute(
        select(*_RECORD_COLUMNS, groups.c.first_id, groups.c.n)
        .join(
            groups,
            and_(
                groups.c.resident_id == ServiceRecord.resident_id,
                groups.c.type == ServiceRecord.type,
                groups.c.service_date == ServiceRecord.service_date,
            ),
        )
        .where(*filters, ServiceRecord.id != groups.c.first_id)
        .order_by(ServiceRecord.id)
    ).all()
    return [
        _record_candidate(
            "duplicate",
            row,
            f"{_type_label(row.type)}：{row.service_date.isoformat()} 同一居民同类服务共 {row.n} 条"
            f"（首条记录 #{row.first_id}）",
            row.doctor_id,
        )
        for row in rows
    ]


def _velocity(start: date, end: date, filters: list[Any]) -> list[_Candidate]:
    entered_epoch = dialect.epoch_seconds(ServiceRecord.entered_at)
    order = (ServiceRecord.entered_at, ServiceRecord.id)
    gaps = (
        select(
            ServiceRecord.id.label("id"),
            ServiceRecord.entered_by_id.label("uid"),
            entered_epoch.label("t"),
            ServiceRecord.service_date.label("day"),
            (entered_epoch - dialect.epoch_seconds(ServiceRecord.service_date)).label("late"),
            (
                entered_epoch
                - func.lag(entered_epoch).over(
                    partition_by=ServiceRecord.entered_by_id, order_by=order
                )
            ).label("gap"),
        )
        .where(
            *filters,
            ServiceRecord.type.in_(VISIT_TYPES),
            ServiceRecord.entered_at >= _day_start(start),
            ServiceRecord.entered_at < _day_start(end + timedelta(days=1)),
        )
        .subquery("gaps")
    )
    # A record starts a new run unless it came less than the gap after the previous one.
    new_run = case((or_(gaps.c.gap.is_(None), gaps.c.gap >= VELOCITY_GAP_SECONDS), 1), else_=0)
    runs = select(
        gaps.c.id,
        gaps.c.uid,
        gaps.c.t,
        gaps.c.day,
        gaps.c.late,
        func.sum(new_run)
        .over(partition_by=gaps.c.uid, order_by=(gaps.c.t, gaps.c.id))
        .label("run"),
    ).subquery("runs")
    sizes = (
        select(
            runs.c.uid,
            runs.c.run,
            func.count(runs.c.id).label("n"),
            (func.max(runs.c.t) - func.min(runs.c.t)).label("span"),
        )
        .group_by(runs.c.uid, runs.c.run)
        .having(
            func.count(runs.c.id) >= VELOCITY_MIN,
            # Live entries only: one service day, entered on that day. A sitting typing up paper
            # forms of several past days is not a pace, whatever its speed.
            func.min(runs.c.day) == func.max(runs.c.day),
            func.max(runs.c.late) < 86400,
        )
        .subquery("sizes")
    )
    rows = db.session.execute(
        select(*_RECORD_COLUMNS, sizes.c.n, sizes.c.span)
        .join(runs, runs.c.id == ServiceRecord.id)
        .join(sizes, and_(sizes.c.uid == runs.c.uid, sizes.c.run == runs.c.run))
        .order_by(ServiceRecord.id)
    ).all()
    return [
        _record_candidate(
            "velocity",
            row,
            f"{_type_label(row.type)}：同一录入人连续录入 {row.n} 条上门/随访类服务，"
            f"共用时 {int(row.span) // 60} 分 {int(row.span) % 60} 秒，相邻两条间隔均不足 3 分钟"
            f"（本条录入于 {row.entered_at:%Y-%m-%d %H:%M:%S}）",
            row.entered_by_id,
        )
        for row in rows
    ]


def _outside_grid(start: date, end: date, filters: list[Any]) -> list[_Candidate]:
    rows = db.session.execute(
        select(*_RECORD_COLUMNS, Household.code.label("household_code"), User.display_name)
        .join(Resident, Resident.id == ServiceRecord.resident_id)
        .join(Household, Household.id == Resident.household_id)
        .join(User, User.id == ServiceRecord.doctor_id)
        .where(
            *filters,
            ServiceRecord.service_date >= start,
            ServiceRecord.service_date <= end,
            or_(
                Household.responsible_doctor_id.is_(None),
                Household.responsible_doctor_id != ServiceRecord.doctor_id,
            ),
            or_(
                User.org_unit_id.is_(None),
                Household.team_id.is_(None),
                User.org_unit_id != Household.team_id,
            ),
        )
        .order_by(ServiceRecord.id)
    ).all()
    return [
        _record_candidate(
            "outside_grid",
            row,
            f"{_type_label(row.type)}：{row.service_date.isoformat()} 由 {row.display_name} 提供，"
            f"但该医生既非户 {row.household_code} 的责任医生，也不属于该户所在团队",
            row.doctor_id,
        )
        for row in rows
    ]


def _signed_not_served(
    end: date, county_id: int | None, institution_id: int | None
) -> list[_Candidate]:
    since = add_months(end, -12)
    in_window = (
        ServiceRecord.verification.in_(COUNTING_STATES),
        ServiceRecord.service_date > since,
        ServiceRecord.service_date <= end,
    )
    # Contracts served in the window, by the record's contract or by one of their members: two
    # uncorrelated queries evaluated once, not a subquery per contract.
    served = union(
        select(ServiceRecord.contract_id).where(*in_window, ServiceRecord.contract_id.is_not(None)),
        select(ContractMember.contract_id)
        .join(ServiceRecord, ServiceRecord.resident_id == ContractMember.resident_id)
        .where(*in_window),
    )
    stmt = select(
        Contract.id,
        Contract.code,
        Contract.county_id,
        Contract.institution_id,
        Contract.team_id,
        Contract.doctor_id,
        Contract.start_date,
    ).where(
        Contract.status == "active",
        Contract.start_date <= since,
        Contract.id.not_in(select(served.subquery().c[0])),
    )
    if county_id is not None:
        stmt = stmt.where(Contract.county_id == county_id)
    if institution_id is not None:
        stmt = stmt.where(Contract.institution_id == institution_id)
    rows = db.session.execute(stmt.order_by(Contract.id)).all()
    return [
        _Candidate(
            kind="signed_not_served",
            subject_key=f"contract:{row.id}:{end.year}",
            county_id=row.county_id,
            institution_id=row.institution_id,
            team_id=row.team_id,
            subject_date=end,
            detail=(
                f"协议 {row.code} 自 {row.start_date.isoformat()} 起有效，"
                f"{since + timedelta(days=1)} 至 {end.isoformat()} 的 12 个月内无有效服务记录"
            ),
            user_id=row.doctor_id,
            contract_id=row.id,
        )
        for row in rows
    ]


# ------------------------------------------------------------------ detection


def detect_flags(
    start: date, end: date, county_id: int | None = None, *, institution_id: int | None = None
) -> int:
    """Raise every kind of flag for ``[start, end]`` (optionally one county or institution).

    Idempotent: a subject already flagged (in any status) is skipped. Returns the number of new
    flags. Flushes; the caller commits.
    """
    if start > end:
        raise FlagError(f"开始日期 {start} 晚于结束日期 {end}")
    filters = _record_filters(county_id, institution_id)
    candidates = [
        *_backdated(start, end, filters),
        *_duplicates(start, end, filters),
        *_velocity(start, end, filters),
        *_outside_grid(start, end, filters),
        *_signed_not_served(end, county_id, institution_id),
    ]
    from fdoctor.flags.detectors import field_candidates

    candidates += field_candidates(start, end, filters, county_id, institution_id)
    return _insert_new(candidates)


def _existing_keys(kind: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[i : i + _KEY_CHUNK]
        found.update(
            db.session.scalars(
                select(SuspicionFlag.subject_key).where(
                    SuspicionFlag.kind == kind, SuspicionFlag.subject_key.in_(chunk)
                )
            )
        )
    return found


def _insert_new(candidates: Iterable[_Candidate]) -> int:
    by_kind: dict[str, dict[str, _Candidate]] = {}
    for candidate in candidates:
        by_kind.setdefault(candidate.kind, {}).setdefault(candidate.subject_key, candidate)
    now = clock.now()
    rows = []
    for kind, by_key in by_kind.items():
        existing = _existing_keys(kind, list(by_key))
        rows += [
            {
                "kind": c.kind,
                "subject_key": c.subject_key,
                "service_record_id": c.service_record_id,
                "contract_id": c.contract_id,
                "user_id": c.user_id,
                "subject_date": c.subject_date,
                "detail": c.detail,
                "status": "open",
                "detected_at": now,
                "county_id": c.county_id,
                "institution_id": c.institution_id,
                "team_id": c.team_id,
            }
            for key, c in by_key.items()
            if key not in existing
        ]
    if not rows:
        return 0
    # A concurrent run may have inserted some keys since we looked: skip them, never fail.
    stmt = (
        dialect.insert_for(SuspicionFlag)
        .on_conflict_do_nothing(index_elements=["kind", "subject_key"])
        .returning(*SuspicionFlag.__table__.columns)
    )
    created = db.session.execute(stmt, rows).mappings().all()
    # The Core insert bypasses the audit listener: each new flag gets its create entry here.
    from fdoctor.audit.services import write_created_rows

    write_created_rows(db.session.connection(), "suspicion_flag", [dict(r) for r in created])
    db.session.flush()
    return len(rows)


# ------------------------------------------------------------------ reading


def open_flag_counts(team_ids: Iterable[int]) -> dict[int, int]:
    """Open flags per team (one grouped query): the risk input of verification sampling."""
    ids = list(team_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(SuspicionFlag.team_id, func.count(SuspicionFlag.id))
        .where(SuspicionFlag.status == "open", SuspicionFlag.team_id.in_(ids))
        .group_by(SuspicionFlag.team_id)
    ).all()
    return {team_id: n for team_id, n in rows}


# ------------------------------------------------------------------ deciding


def resolve_flag(flag: SuspicionFlag, decision: str, reason: str, user: Any) -> SuspicionFlag:
    """Dismiss or confirm an open flag, with a reason. Flushes.

    Confirming a flag on a service record sends the record to the review queue (``disputed``)
    unless it is already disputed or false: the suspicion is then settled by the record review.
    """
    if decision not in FLAG_DECISIONS:
        raise FlagError("请选择“排除疑点”或“确认疑点”")
    reason = (reason or "").strip()
    if not reason:
        raise FlagError("请填写处理理由")
    if len(reason) > 1000:
        raise FlagError("处理理由不能超过 1000 字")
    if flag.status != "open":
        raise FlagError("该疑点已处理，不能重复处理", status=409)
    flag.status = decision
    flag.resolution_reason = reason
    flag.resolved_by_id = user.id
    flag.resolved_at = clock.now()
    if decision == "confirmed" and flag.service_record_id is not None:
        record = db.session.get(ServiceRecord, flag.service_record_id)
        if record is not None and record.verification in COUNTING_STATES:
            record.verification = "disputed"
    db.session.flush()
    return flag
