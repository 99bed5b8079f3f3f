"""What the periodic jobs do: reminders, overdue flags, contract expiry, the workload report.

Each function selects what is due, writes only what is missing (keys and unique constraints), and
flushes; running it twice for the same period or day changes nothing the second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from assessments.tiers import Period
from fdoctor.assessments.levels import LEVEL_LABELS
from fdoctor.assessments.models import (
    Assessment,
    Notification,
    Rectification,
    WorkloadReport,
    WorkloadReportRow,
)
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

CONTRACT_WARNING_DAYS = 30
_CHUNK = 500


@dataclass
class Outcome:
    """What a job did, for the log and the command line."""

    created: int = 0
    updated: int = 0
    note: str = ""

    def __str__(self) -> str:
        text = f"新增 {self.created} 条，更新 {self.updated} 条"
        return f"{text}；{self.note}" if self.note else text


def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        found.update(
            db.session.scalars(select(Notification.key).where(Notification.key.in_(chunk)))
        )
    return found


def _notify(rows: list[dict[str, object]]) -> int:
    """Add the notifications whose key is new; returns how many were added."""
    keys = [str(row["key"]) for row in rows]
    have = _existing_keys(keys)
    added = 0
    now = clock.now()
    for row in rows:
        if row["key"] in have:
            continue
        have.add(str(row["key"]))
        db.session.add(Notification(created_at=now, **row))
        added += 1
    db.session.flush()
    return added


# --------------------------------------------------------------------------- assessments


def remind_l1(period: Period) -> Outcome:
    """One reminder per L1 self-check of ``period`` still open or in draft."""
    pending = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.level == "L1",
            Assessment.period == str(period),
            Assessment.is_current.is_(True),
            Assessment.status.in_(("open", "draft")),
        )
        .options(selectinload(Assessment.unit))
    ).all()
    rows: list[dict[str, object]] = [
        {
            "key": f"remind_l1:{a.id}",
            "kind": "remind_l1",
            "unit_id": a.unit_id,
            "county_id": a.county_id,
            "institution_id": a.institution_id,
            "team_id": a.team_id,
            "message": f"{a.unit.name}：{period.label}月度自查尚未提交，请于 {a.due_on.isoformat()} 前完成评分并提交",
            "link": f"/assessments/{a.id}",
        }
        for a in pending
    ]
    return Outcome(created=_notify(rows), note=f"未提交的月度自查 {len(pending)} 份")


def flag_overdue(today: date) -> Outcome:
    """Flag assessments past their due date unsubmitted and rectification items past deadline."""
    late = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.is_current.is_(True),
            Assessment.status.in_(("open", "draft")),
            Assessment.due_on < today,
        )
        .options(selectinload(Assessment.unit))
    ).all()
    updated = 0
    rows: list[dict[str, object]] = []
    for a in late:
        if a.overdue_since is None:
            a.overdue_since = a.due_on + timedelta(days=1)
            updated += 1
        rows.append(
            {
                "key": f"assessment_overdue:{a.id}",
                "kind": "assessment_overdue",
                "unit_id": a.assessor_unit_id or a.unit_id,
                "county_id": a.county_id,
                "institution_id": a.institution_id,
                "team_id": a.team_id,
                "message": f"{a.unit.name} {a.period} {LEVEL_LABELS.get(a.level, a.level)}已逾期（应于 {a.due_on.isoformat()} 前提交）",
                "link": f"/assessments/{a.id}",
            }
        )
    late_items = db.session.scalars(
        select(Rectification).where(Rectification.status == "open", Rectification.deadline < today)
    ).all()
    for r in late_items:
        if r.overdue_since is None:
            r.overdue_since = r.deadline + timedelta(days=1)
            updated += 1
        rows.append(
            {
                "key": f"rectification_overdue:{r.id}",
                "kind": "rectification_overdue",
                "unit_id": r.owner_unit_id,
                "county_id": r.county_id,
                "institution_id": r.institution_id,
                "team_id": r.team_id,
                "message": f"整改项 {r.code}（{r.name}）已超过整改期限 {r.deadline.isoformat()}",
                "link": f"/assessments/{r.assessment_id}#rectifications",
            }
        )
    created = _notify(rows)
    db.session.flush()
    return Outcome(
        created=created,
        updated=updated,
        note=f"逾期考核 {len(late)} 份，逾期整改项 {len(late_items)} 项",
    )


# --------------------------------------------------------------------------- contracts


def contract_expiry(today: date, warning_days: int = CONTRACT_WARNING_DAYS) -> Outcome:
    """Remind of contracts ending within ``warning_days``; expire those past their end date.

    Expired contracts get status ``expired`` and their members ``is_active = False``. Done row by
    row through the ORM so the audit trail records every change (few contracts end on one day).
    """
    from fdoctor.contracts.models import Contract

    until = today + timedelta(days=warning_days)
    expiring = db.session.execute(
        select(
            Contract.id,
            Contract.code,
            Contract.end_date,
            Contract.county_id,
            Contract.institution_id,
            Contract.team_id,
        )
        .where(Contract.status == "active", Contract.end_date >= today, Contract.end_date <= until)
        .order_by(Contract.end_date, Contract.id)
    ).all()
    rows: list[dict[str, object]] = [
        {
            "key": f"contract_expiring:{c.id}:{c.end_date.isoformat()}",
            "kind": "contract_expiring",
            "unit_id": c.team_id or c.institution_id,
            "county_id": c.county_id,
            "institution_id": c.institution_id,
            "team_id": c.team_id,
            "message": f"签约协议 {c.code} 将于 {c.end_date.isoformat()} 到期，请联系居民续约",
            "link": f"/contracts/{c.id}",
        }
        for c in expiring
    ]
    created = _notify(rows)
    from fdoctor.contracts.services import expire_contracts

    ended = expire_contracts(today)  # the contracts area owns the rule; it is idempotent
    return Outcome(
        created=created,
        updated=ended,
        note=f"30 天内到期 {len(expiring)} 份，置为已到期 {ended} 份",
    )


# --------------------------------------------------------------------------- workload


def workload_report(period: Period, county_ids: Collection[int] | None = None) -> Outcome:
    """The month's services per team and type, one report per county (missing ones only);
    ``county_ids`` limits it to those counties (a county generating its own from the page)."""
    from fdoctor.records.models import ServiceRecord

    stmt = select(OrgUnit).where(OrgUnit.kind == "county")
    if county_ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(list(county_ids)))
    counties = db.session.scalars(stmt.order_by(OrgUnit.code)).all()
    have = set(
        db.session.scalars(
            select(WorkloadReport.county_id).where(WorkloadReport.period == str(period))
        )
    )
    todo = [c for c in counties if c.id not in have]
    if not todo:
        return Outcome(note=f"{period} 各县区报表均已生成" if counties else "没有县区")
    counts = db.session.execute(
        select(
            ServiceRecord.county_id,
            ServiceRecord.institution_id,
            ServiceRecord.team_id,
            ServiceRecord.type,
            func.count(ServiceRecord.id),
        )
        .where(
            ServiceRecord.service_date >= period.start,
            ServiceRecord.service_date <= period.end,
            ServiceRecord.verification != "false",
            ServiceRecord.team_id.is_not(None),
            ServiceRecord.county_id.in_([c.id for c in todo]),
        )
        .group_by(
            ServiceRecord.county_id,
            ServiceRecord.institution_id,
            ServiceRecord.team_id,
            ServiceRecord.type,
        )
    ).all()
    by_county: dict[int, list[tuple[int, int, str, int]]] = defaultdict(list)
    for county_id, inst_id, team_id, type_, n in counts:
        by_county[county_id].append((inst_id, team_id, type_, n))
    now = clock.now()
    rows_added = 0
    for county in todo:
        lines = by_county.get(county.id, [])
        report = WorkloadReport(
            county_id=county.id, period=str(period), created_at=now, total=sum(n for *_, n in lines)
        )
        db.session.add(report)
        db.session.flush()
        for inst_id, team_id, type_, n in lines:
            db.session.add(
                WorkloadReportRow(
                    report_id=report.id,
                    county_id=county.id,
                    institution_id=inst_id,
                    team_id=team_id,
                    service_type=type_,
                    count=n,
                )
            )
            rows_added += 1
    db.session.flush()
    return Outcome(created=len(todo), note=f"{period} 生成 {len(todo)} 个县区报表，{rows_added} 行")
