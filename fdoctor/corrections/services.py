"""Corrections after lock (锁定后更正): noticing them, computing them, carrying them forward.

* ``note_false_record(record, user)`` — a service record found false (``record_found_false``):
  if it was counted in a locked settlement of its year, that sheet's member input (its doctor's
  counted services in its team) loses one;
* ``note_score_revision(assessment, user)`` — a new revision of a published score
  (``score_revised``, after an accepted appeal or a correction): if a locked settlement of its
  year used the score (L4 of the year, L3 of ``Y-H2``, L2 of ``Y-Qn``), the score is replaced;
* the arithmetic is the core's (``assessments.cascade.corrections.correct``) on the locked
  sheet's own stored inputs with the earlier corrections of that sheet applied first;
* ``carried_json(year, sheet)`` — the corrections the settlement of ``year`` carries (every
  correction of an earlier year not yet carried into another sheet), written into that sheet's
  inputs, so its SHA-256 covers them; ``assign(sheet, ids)`` records where each went.

Each note is idempotent (one correction per locked sheet and cause). Flushes; the caller commits.

Was a record counted? The locked sheet counted a member's records as they stood when its inputs
were gathered (the sheet's computation, whose audit entry marks the moment). The record's state
then is the ``before`` of its first audit entry after that moment (a ``create`` after it: the
record did not exist yet); with no entry after it, the record is as it was then.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select

from assessments.cascade import PublishedScore
from assessments.cascade.corrections import (
    Amount,
    CorrectionError,
    Difference,
    FactChange,
    ScoreChange,
    ServicesChange,
    apply_changes,
    baseline_of,
    correct,
    pool_of,
    used_score,
)
from fdoctor.audit.chain import write_created_rows
from fdoctor.audit.models import AuditEntry
from fdoctor.core import clock, dialect
from fdoctor.core.signals import record_found_false, score_revised
from fdoctor.corrections.models import SettlementCorrection, SettlementCorrectionLine
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.settlement.cascade import settlement_inputs
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import score_text
from fdoctor.settlement.models import Settlement
from fdoctor.settlement.reads import COUNTING_STATUSES
from fdoctor.surveys.models import RecordReview
from fdoctor.tallies.services import COUNTING_STATES
from fdoctor.teamsplit.reads import point_tables, table_for

SCORE_LEVELS = {"L4": "市级年度考核", "L3": "县区年终考核", "L2": "季度考核"}


# --------------------------------------------------------------------------- the facts as JSON


def change_json(change: FactChange) -> dict[str, Any]:
    if isinstance(change, ServicesChange):
        return {
            "kind": "services",
            "team_id": change.team_id,
            "user_id": change.user_id,
            "delta": change.delta,
            "points_delta": str(change.points_delta),
        }
    s = change.score
    return {
        "kind": "score",
        "unit_id": change.unit_id,
        "score": {
            "level": s.level,
            "period": s.period,
            "assessment_id": s.assessment_id,
            "revision": s.revision,
            "status": s.status,
            "value": str(s.value),
        },
    }


def change_of(data: dict[str, Any]) -> FactChange:
    if data["kind"] == "services":
        return ServicesChange(
            data["team_id"],
            data["user_id"],
            data["delta"],
            Decimal(data.get("points_delta", "0")),  # corrections stored before points: none
        )
    s = data["score"]
    return ScoreChange(
        data["unit_id"],
        PublishedScore(
            s["level"], s["period"], s["assessment_id"], s["revision"], Decimal(s["value"]),
            s.get("status"),
        ),
    )  # fmt: skip


# --------------------------------------------------------------------------- noticing


def _locked_settlement(year: int) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(
            Settlement.year == year, Settlement.kind == "settlement", Settlement.status == "locked"
        )
    )


def _computed_mark(settlement: Settlement) -> tuple[int | None, Any]:
    """The audit entry that wrote the sheet's final figures (the last one whose row image after
    holds the sheet's SHA-256 and before did not): every audit entry after it happened after the
    sheet's inputs were gathered. Matched as text in the database: the row images hold the
    sheet's whole inputs and outputs (megabytes at city scale), never parsed here."""
    sha = settlement.sha256
    mark = db.session.scalar(
        select(func.max(AuditEntry.id)).where(
            AuditEntry.table_name == "settlement",
            AuditEntry.row_id == str(settlement.id),
            AuditEntry.after.contains(sha, autoescape=True),
            or_(AuditEntry.before.is_(None), ~AuditEntry.before.contains(sha, autoescape=True)),
        )
    )
    return mark, settlement.computed_at


def record_state_at_computation(record: Any, settlement: Settlement) -> str | None:
    """The record's verification when the sheet's inputs were gathered (None: not yet there)."""
    mark, computed_at = _computed_mark(settlement)
    query = select(AuditEntry.action, AuditEntry.before).where(
        AuditEntry.table_name == "service_record", AuditEntry.row_id == str(record.id)
    )
    query = query.where(AuditEntry.id > mark) if mark else query.where(AuditEntry.at > computed_at)
    first = db.session.execute(query.order_by(AuditEntry.id).limit(1)).first()
    if first is None:
        return str(record.verification)
    action, before = first
    if action == "create" or not before:
        return None
    return str(json.loads(before).get("verification"))


def note_false_record(record: Any, user: Any | None = None) -> SettlementCorrection | None:
    """A record found false: a correction of the locked settlement of its year that counted it."""
    settlement = _locked_settlement(record.service_date.year)
    if settlement is None or record.team_id is None:
        return None
    if record_state_at_computation(record, settlement) not in COUNTING_STATES:
        return None  # the sheet did not count it: nothing to correct
    # The record's points by its county's point table as it is now (the sheet stores each
    # member's points, not the table's values at the lock).
    points = table_for(point_tables(), record.county_id).points.get(record.type, Decimal(0))
    doctor = getattr(record, "doctor", None)
    doctor_name = getattr(doctor, "display_name", None) or f"#{record.doctor_id}"
    team_name = getattr(getattr(record, "team", None), "name", None) or f"#{record.team_id}"
    reason = (
        f"服务记录 #{record.id}（{record.service_date.isoformat()} {record.type_label}，"
        f"{doctor_name}，{team_name}）经复核认定虚假；{doctor_name} 在{settlement.year} 年度"
        f"计入工作量的服务减少 1 次（{points} 点），按锁定时的其余数据重新计算该团队的成员分配"
    )
    review_reason = _review_reason(record)
    if review_reason:
        reason += f"。认定理由：{review_reason}"
    change = ServicesChange(
        team_id=record.team_id, user_id=record.doctor_id, delta=-1, points_delta=-points
    )
    return _create(settlement, "record", record.id, change, reason, user)


def _review_reason(record: Any) -> str | None:
    return db.session.scalar(
        select(RecordReview.reason)
        .where(RecordReview.service_record_id == record.id, RecordReview.decision == "false")
        .order_by(RecordReview.id.desc())
        .limit(1)
    )


def _score_year(level: str, period: str) -> int | None:
    """The settlement year that uses a score of ``level`` and ``period``, if any."""
    head = period.split("-")[0]
    if not head.isdigit():
        return None
    if level == "L4" and period == head:
        return int(head)
    if level == "L3" and period == f"{head}-H2":
        return int(head)
    if level == "L2" and period in {f"{head}-Q{q}" for q in range(1, 5)}:
        return int(head)
    return None


def note_score_revision(assessment: Any, user: Any | None = None) -> SettlementCorrection | None:
    """A new revision of a published score: a correction of the locked settlement that used it."""
    if assessment.total is None:
        return None
    year = _score_year(assessment.level, assessment.period)
    settlement = _locked_settlement(year) if year is not None else None
    if settlement is None:
        return None
    score = PublishedScore(
        assessment.level, assessment.period, assessment.id, assessment.revision,
        Decimal(score_text(assessment.total)), assessment.status,
    )  # fmt: skip
    change = ScoreChange(unit_id=assessment.unit_id, score=score)
    old = used_score(_corrected_inputs(settlement), change)
    if old is None or old.value == score.value:
        return None  # the sheet did not use this score, or the value it now stands at is the same
    unit = getattr(assessment, "unit", None)
    unit_name = getattr(unit, "name", None) or f"#{assessment.unit_id}"
    reason = (
        f"「{unit_name}」{assessment.period} {SCORE_LEVELS[assessment.level]}（{assessment.level}）"
        f"第 {assessment.revision} 版：得分 {old.value} → {score.value}"
        + (f"（{assessment.revision_reason}）" if assessment.revision_reason else "")
        + "；按锁定时的其余数据重新计算"
    )
    return _create(settlement, "assessment", assessment.id, change, reason, user)


# --------------------------------------------------------------------------- computing


def _earlier(settlement: Settlement) -> list[SettlementCorrection]:
    return list(
        db.session.scalars(
            select(SettlementCorrection)
            .where(SettlementCorrection.settlement_id == settlement.id)
            .order_by(SettlementCorrection.id)
        )
    )


def _corrected_inputs(settlement: Settlement) -> Any:
    inputs = settlement_inputs(json.loads(settlement.inputs_json))
    return apply_changes(
        inputs, [change_of(json.loads(c.change_json)) for c in _earlier(settlement)]
    )


def _locked_amounts(settlement: Settlement) -> list[Amount]:
    return [
        Amount(
            key=line["key"], parent=line["parent"], level=line["level"], name=line["name"],
            entitled_fen=line["entitled_fen"] or 0, unit_id=line["unit_id"],
            user_id=line["user_id"], county_id=line["county_id"],
            institution_id=line["institution_id"], team_id=line["team_id"],
        )
        for line in json.loads(settlement.outputs_json)
    ]  # fmt: skip


def _write_lines(correction: SettlementCorrection, lines: tuple[Difference, ...]) -> None:
    """The difference lines as one multi-row insert and their audit entries (an L4 correction
    moves every line of its pool: thousands at city scale)."""
    if not lines:
        return
    rows = [
        {
            "correction_id": correction.id, "position": position, "key": d.line.key,
            "parent_key": d.line.parent, "level": d.line.level, "name": d.line.name,
            "unit_id": d.line.unit_id, "user_id": d.line.user_id, "county_id": d.line.county_id,
            "institution_id": d.line.institution_id, "team_id": d.line.team_id,
            "before_fen": d.before_fen, "after_fen": d.after_fen,
            "difference_fen": d.difference_fen,
        }
        for position, d in enumerate(lines)
    ]  # fmt: skip
    table = SettlementCorrectionLine.__table__
    connection = db.session.connection()
    ids = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    for row, line_id in zip(rows, ids, strict=True):
        row["id"] = line_id
    write_created_rows(connection, table.name, rows)


def _differences_of(corrections: list[SettlementCorrection]) -> list[list[Difference]]:
    """The stored difference lines of ``corrections``, as the core's ``Difference``."""
    lines = _lines_of([c.id for c in corrections]) if corrections else {}
    return [
        [
            Difference(
                Amount(line.key, line.parent_key, line.level, line.name, line.after_fen),
                line.before_fen,
                line.after_fen,
            )
            for line in lines.get(c.id, [])
        ]
        for c in corrections
    ]


def _serialise(settlement: Settlement) -> None:
    """Corrections of one sheet compound in order: take the sheet's row lock (PostgreSQL) so two
    at once queue; SQLite's writer lock already does."""
    if dialect.is_postgresql():
        db.session.execute(
            select(Settlement.id).where(Settlement.id == settlement.id).with_for_update()
        )


def _create(
    settlement: Settlement,
    cause_kind: str,
    cause_id: int,
    change: FactChange,
    reason: str,
    user: Any | None,
) -> SettlementCorrection | None:
    _serialise(settlement)
    existing = db.session.scalar(
        select(SettlementCorrection).where(
            SettlementCorrection.settlement_id == settlement.id,
            SettlementCorrection.cause_kind == cause_kind,
            SettlementCorrection.cause_id == cause_id,
        )
    )
    if existing is not None:
        return existing
    inputs = settlement_inputs(json.loads(settlement.inputs_json))
    before = _earlier(settlement)
    earlier = [change_of(json.loads(c.change_json)) for c in before]
    if pool_of(apply_changes(inputs, earlier), change) is None:
        return None  # e.g. the doctor was not a member of that team on the sheet
    baseline = baseline_of(_locked_amounts(settlement), _differences_of(before))
    try:
        result = correct(inputs, earlier, change, baseline)
    except CorrectionError as exc:
        raise SettlementError(str(exc)) from None
    correction = SettlementCorrection(
        settlement_id=settlement.id,
        year=settlement.year,
        pool_id=result.pool_id,
        cause_kind=cause_kind,
        cause_id=cause_id,
        change_json=json.dumps(change_json(change), ensure_ascii=False, sort_keys=True),
        reason=reason,
        created_at=clock.now(),
        created_by_id=getattr(user, "id", None),
        moved_fen=sum(
            d.difference_fen
            for d in result.lines
            if d.line.level in ("member", "reserve") and d.difference_fen > 0
        ),
    )
    db.session.add(correction)
    db.session.flush()
    _write_lines(correction, result.lines)
    return correction


# --------------------------------------------------------------------------- carrying


def carried(year: int, sheet_id: int | None) -> list[SettlementCorrection]:
    """The corrections the settlement of ``year`` carries: those of earlier years carried into
    this sheet already, and those not yet carried anywhere, in the order they were found."""
    waiting = SettlementCorrection.carried_into_id.is_(None)
    where = (
        waiting
        if sheet_id is None
        else waiting | (SettlementCorrection.carried_into_id == sheet_id)
    )
    return list(
        db.session.scalars(
            select(SettlementCorrection)
            .where(
                SettlementCorrection.year < year,
                where,
            )
            .order_by(SettlementCorrection.id)
        )
    )


def carried_json(year: int, sheet_id: int | None) -> list[dict[str, Any]]:
    """The carried corrections as they enter the sheet's inputs (covered by its SHA-256)."""
    corrections = carried(year, sheet_id)
    if not corrections:
        return []
    lines = _lines_of([c.id for c in corrections])
    return [
        {
            "correction_id": c.id,
            "settlement_id": c.settlement_id,
            "year": c.year,
            "cause_kind": c.cause_kind,
            "cause_id": c.cause_id,
            "reason": c.reason,
            "lines": [
                {
                    "key": line.key,
                    "level": line.level,
                    "name": line.name,
                    "unit_id": line.unit_id,
                    "user_id": line.user_id,
                    "county_id": line.county_id,
                    "institution_id": line.institution_id,
                    "team_id": line.team_id,
                    "difference_fen": line.difference_fen,
                }
                for line in lines.get(c.id, [])
            ],
        }
        for c in corrections
    ]


def _lines_of(ids: list[int]) -> dict[int, list[SettlementCorrectionLine]]:
    out: dict[int, list[SettlementCorrectionLine]] = {}
    for line in db.session.scalars(
        select(SettlementCorrectionLine)
        .where(SettlementCorrectionLine.correction_id.in_(ids))
        .order_by(SettlementCorrectionLine.correction_id, SettlementCorrectionLine.position)
    ):
        out.setdefault(line.correction_id, []).append(line)
    return out


def assign(settlement: Settlement, correction_ids: list[int]) -> None:
    """Record that the corrections are carried into ``settlement`` (a draft). Flushes."""
    if not correction_ids:
        return
    for correction in db.session.scalars(
        select(SettlementCorrection).where(
            SettlementCorrection.id.in_(correction_ids),
            SettlementCorrection.carried_into_id.is_(None),
        )
    ):
        correction.carried_into_id = settlement.id  # audited by the flush listener
    db.session.flush()


def corrections_of(settlement: Settlement) -> list[SettlementCorrection]:
    """The corrections found after ``settlement`` was locked, in order."""
    return _earlier(settlement)


def carried_into(settlement: Settlement) -> list[SettlementCorrection]:
    return list(
        db.session.scalars(
            select(SettlementCorrection)
            .where(SettlementCorrection.carried_into_id == settlement.id)
            .order_by(SettlementCorrection.id)
        )
    )


# --------------------------------------------------------------------------- repair


def scan(year: int, user: Any | None = None) -> list[SettlementCorrection]:
    """Notice again every fact of ``year`` that may correct its locked settlement: its records
    found false and its scores with a later revision, in the order they happened. Idempotent:
    the corrections already made are returned as they are, so a run repairs only what the
    signals missed (e.g. rows changed outside the app). Flushes."""
    from fdoctor.assessments.models import Assessment

    if _locked_settlement(year) is None:
        return []
    found: list[SettlementCorrection] = []
    records = db.session.scalars(
        select(ServiceRecord)
        .where(
            ServiceRecord.service_date >= date(year, 1, 1),
            ServiceRecord.service_date <= date(year, 12, 31),
            ServiceRecord.verification == "false",
            ServiceRecord.team_id.is_not(None),
        )
        .order_by(ServiceRecord.updated_at, ServiceRecord.id)
    ).all()
    for record in records:
        if (correction := note_false_record(record, user)) is not None:
            found.append(correction)
    periods = [str(year), f"{year}-H2", *(f"{year}-Q{q}" for q in range(1, 5))]
    revisions = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.is_current,
            Assessment.revision > 1,
            Assessment.status.in_(COUNTING_STATUSES),
            Assessment.level.in_(tuple(SCORE_LEVELS)),
            Assessment.period.in_(periods),
        )
        .order_by(Assessment.published_at, Assessment.id)
    ).all()
    for assessment in revisions:
        if (correction := note_score_revision(assessment, user)) is not None:
            found.append(correction)
    return found


# --------------------------------------------------------------------------- signals


def _on_record_found_false(record: Any, user: Any | None = None, **_: Any) -> None:
    note_false_record(record, user)


def _on_score_revised(assessment: Any, user: Any | None = None, **_: Any) -> None:
    note_score_revision(assessment, user)


def connect_signals() -> None:
    """Listen for the facts that correct a locked sheet (idempotent: blinker keeps one of each)."""
    record_found_false.connect(_on_record_found_false)
    score_revised.connect(_on_score_revised)


__all__ = [
    "assign",
    "carried",
    "carried_into",
    "carried_json",
    "connect_signals",
    "corrections_of",
    "note_false_record",
    "note_score_revision",
    "scan",
]
