"""Opening writes its rows with Core statements: exactly the rows and audit entries that opening
through the ORM (one object per assessment and item, the audit flush listener) wrote."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from assessments.scoring import score_metric_indicators
from assessments.tiers import due_on
from fdoctor.assessments import opening
from fdoctor.assessments.indexes import choose_index
from fdoctor.assessments.items import _json_value, item_rows, refresh_metrics
from fdoctor.assessments.levels import ASSESSEE_KIND, invalid_period, tier
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.opening import open_assessments
from fdoctor.audit.models import AuditEntry
from fdoctor.audit.verify import verify
from fdoctor.core import clock
from fdoctor.core.periods import parse_period
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from tests.factories.assessments import PERIOD, TODAY, World, score_all_manual

pytestmark = pytest.mark.db

# (level, period, the day it is opened)
CASES = [
    ("L1", PERIOD, TODAY),
    ("L2", "2026-Q1", date(2026, 4, 2)),
    ("L3", "2026-H1", date(2026, 7, 2)),
    ("L4", "2025", date(2026, 1, 2)),
]


def _open_through_the_orm(level: str, period_text: str, today: date) -> list[int]:
    """The reference: what opening did before the bulk path, one ORM object per row."""
    from fdoctor.assessments.metrics import compute_metrics

    period = parse_period(period_text, level, error=invalid_period)
    units = opening._assessees(level, None, None)
    start, end = period.covers
    city_id = opening._city_id()
    opened = []
    with clock.frozen(today):
        grain = ASSESSEE_KIND[level]
        values = compute_metrics(grain, start, end, unit_ids=[u.id for u in units])
        for unit in units:
            county = db.session.get(OrgUnit, unit.county_id) if unit.county_id else None
            choice = choose_index(period.year, county)
            county_id, institution_id, team_id = opening._place(level, unit)
            assessment = Assessment(
                level=level,
                period=str(period),
                unit_id=unit.id,
                assessor_unit_id=opening._assessor_unit_id(level, unit, city_id),
                county_id=county_id,
                institution_id=institution_id,
                team_id=team_id,
                index_code=choice.index.code,
                index_version=str(choice.index.version),
                index_file=choice.file_name,
                index_sha256=choice.sha256,
                status="open",
                revision=1,
                is_current=True,
                opened_at=clock.now(),
                due_on=due_on(tier(level), period),
            )
            db.session.add(assessment)
            _fill_items_as_before(assessment, choice.index, values.get(unit.id, {}))
            opened.append(assessment)
        db.session.flush()
    return [a.id for a in opened]


def _fill_items_as_before(assessment: Assessment, index: Any, metric_values: Any) -> None:
    """New items, attribute by attribute, as ``fill_items`` set them before ``item_rows``."""
    values: dict[str, object] = {}
    for indicator in index.indicators:
        if indicator.metric:
            mv = metric_values.get(indicator.metric)
            values[indicator.code] = None if mv is None else mv.value
    scored, unscorable = score_metric_indicators(index, values)
    for indicator in index.indicators:
        item = AssessmentItem(assessment=assessment, code=indicator.code)
        db.session.add(item)
        item.name = indicator.name
        item.dimension = indicator.dimension
        item.max_points = indicator.max_points
        item.rule = indicator.rule.kind
        item.metric = indicator.metric
        item.target = indicator.target
        item.description = indicator.description
        mv = metric_values.get(indicator.metric) if indicator.metric else None
        item.numerator = None if mv is None else mv.numerator
        item.denominator = None if mv is None else mv.denominator
        item.value = None if mv is None else _json_value(mv.value)
        item.drill = None if mv is None else json.dumps(dict(mv.drill or {}), ensure_ascii=False)
        if indicator.metric:
            item.detail = mv.detail if mv is not None else "未取得该指标的统计结果"
        else:
            item.detail = None
        if indicator.code in scored:
            result = scored[indicator.code]
            item.source = "metric"
            item.points = result.points
            item.reason = None
            item.score_detail = result.detail
        else:
            item.source = "manual"
            item.score_detail = unscorable.get(indicator.code)
            item.points = None
            item.reason = None
    items = list(assessment.items)
    complete = bool(items) and all(item.points is not None for item in items)
    dims: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for item in items:
        if item.points is not None:
            dims[item.dimension] += item.points
    assessment.dimension_a = dims["A"] if complete else None
    assessment.dimension_b = dims["B"] if complete else None
    assessment.dimension_c = dims["C"] if complete else None
    if assessment.level != "L4":
        assessment.total = sum(dims.values(), Decimal("0.00")) if complete else None


def _last_entry_id() -> int:
    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def _written(after_entry: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The rows and the audit entries written since ``after_entry``, keyed without ids:
    assessments by their assessee, items by (assessee, code)."""
    table_of = {"assessment": Assessment.__table__, "assessment_item": AssessmentItem.__table__}
    unit_of = dict(db.session.execute(select(Assessment.id, Assessment.unit_id)).all())
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.id > after_entry).order_by(AuditEntry.id)
    ).all()
    audited: dict[Any, Any] = {}
    for entry in entries:
        after = json.loads(entry.after or "null")
        assert entry.row_id == str(after["id"])
        assert entry.table_name in table_of and entry.before is None
        if entry.table_name == "assessment":
            key: Any = ("assessment", after.pop("unit_id"))
        else:
            key = ("item", unit_of[after.pop("assessment_id")], after["code"])
        after.pop("id")
        audited[key] = (entry.action, entry.user_id, entry.username, entry.ip, entry.at, after)
    assert len(audited) == len(entries)
    rows: dict[Any, Any] = {}
    for row in db.session.execute(select(Assessment.__table__)).mappings():
        rows[("assessment", row["unit_id"])] = {k: v for k, v in row.items() if k != "id"}
    for row in db.session.execute(select(AssessmentItem.__table__)).mappings():
        key = ("item", unit_of[row["assessment_id"]], row["code"])
        rows[key] = {k: v for k, v in row.items() if k not in ("id", "assessment_id")}
    return rows, audited


@pytest.mark.parametrize("chunk", [250, 1])
@pytest.mark.parametrize(("level", "period", "today"), CASES)
def test_opening_writes_the_rows_and_audit_entries_the_orm_wrote(
    world: World, level: str, period: str, today: date, chunk: int, monkeypatch: Any
) -> None:
    # One batch, and (chunk 1) one insert per assessee: the same rows and entries either way.
    monkeypatch.setattr(opening, "_OPEN_CHUNK", chunk)
    mark = _last_entry_id()
    with clock.frozen(today):
        result = open_assessments(level, period)
    bulk_rows, bulk_audit = _written(mark)
    assert result.created and len(bulk_audit) == 17 * len(result.created)
    db.session.rollback()

    mark = _last_entry_id()
    _open_through_the_orm(level, period, today)
    orm_rows, orm_audit = _written(mark)
    db.session.rollback()

    assert bulk_rows == orm_rows
    assert bulk_audit == orm_audit


def test_the_created_ids_are_the_new_assessments_in_assessee_code_order(world: World) -> None:
    result = open_assessments("L1", PERIOD)
    rows = db.session.execute(
        select(Assessment.id, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == Assessment.unit_id)
        .where(Assessment.level == "L1")
        .order_by(OrgUnit.code)
    ).all()
    assert result.created == [assessment_id for assessment_id, _ in rows]
    audited = set(
        db.session.scalars(
            select(AuditEntry.row_id).where(AuditEntry.table_name == "assessment_item")
        )
    )
    for assessment_id in result.created:
        items = db.session.scalars(
            select(AssessmentItem.id).where(AssessmentItem.assessment_id == assessment_id)
        ).all()
        assert len(items) == 16 and {str(i) for i in items} <= audited


def test_the_chain_verifies_and_reopening_writes_nothing(world: World) -> None:
    with clock.frozen(TODAY):
        first = open_assessments("L1", PERIOD)
        db.session.commit()
        entries = _last_entry_id()
        counts = (
            db.session.scalar(select(func.count(Assessment.id))),
            db.session.scalar(select(func.count(AssessmentItem.id))),
        )
        again = open_assessments("L1", PERIOD)
        db.session.commit()
    assert first.created and again.created == [] and again.existing == len(first.created)
    assert _last_entry_id() == entries
    assert (
        db.session.scalar(select(func.count(Assessment.id))),
        db.session.scalar(select(func.count(AssessmentItem.id))),
    ) == counts
    # The chain, and every live row against its last entry: the entries hold the values as
    # given (a target of 0.35) and the database returns them at the column's scale (0.3500),
    # which the row check compares by value.
    checked = verify(db.session(), check_records=True)
    assert checked.ok, checked.problems


def test_the_opened_rows_load_fresh_and_refreshing_changes_nothing(world: World) -> None:
    with clock.frozen(TODAY):
        result = open_assessments("L1", PERIOD)
        db.session.commit()
        mark = _last_entry_id()
        assessment = db.session.get(Assessment, result.created[0])
        assert assessment is not None and len(assessment.items) == 16
        refresh_metrics(assessment)
        db.session.commit()
    # The stored items are what filling them through the ORM gives: no update entries.
    assert _last_entry_id() == mark


def test_refreshing_keeps_hand_points_where_the_records_still_give_none(world: World) -> None:
    with clock.frozen(TODAY):
        result = open_assessments("L1", PERIOD)
        assessment = db.session.get_one(Assessment, result.created[0])
        manual = [i for i in assessment.items if i.source == "manual"]
        assert manual
        score_all_manual(assessment, world.user("leader"), {manual[0].code: Decimal(1)})
        given = {i.code: (i.points, i.reason) for i in manual}
        total = assessment.total
        refresh_metrics(assessment)
        db.session.commit()
    db.session.expire_all()
    assessment = db.session.get_one(Assessment, result.created[0])
    assert {i.code: (i.points, i.reason) for i in assessment.items if i.source == "manual"} == given
    assert assessment.total == total is not None


def test_item_rows_without_metric_values_leave_metric_items_for_the_assessor(
    world: World,
) -> None:
    choice = choose_index(2026, world.tree.county)
    rows = item_rows(choice.index, {})
    assert [r["code"] for r in rows] == [i.code for i in choice.index.indicators]
    for row in rows:
        if row["metric"]:
            assert row["detail"] == "未取得该指标的统计结果"
            assert row["value"] is None and row["numerator"] is None
        if row["source"] == "manual":
            assert row["points"] is None and row["reason"] is None
