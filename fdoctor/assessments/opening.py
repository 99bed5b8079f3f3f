"""Opening assessments (开启考核): one per assessee of a level and an ended period, its items filled
from the records (``fdoctor.assessments.items``), written in bulk with Core statements."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select

from assessments.tiers import Period, due_on
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.indexes import IndexChoice, choose_index
from fdoctor.assessments.items import assessee_metrics, item_rows, item_totals
from fdoctor.assessments.levels import (
    ASSESSEE_KIND,
    LEVEL_LABELS,
    ensure_judgeable,
    invalid_period,
    parse_level,
    tier,
)
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.core import clock, dialect
from fdoctor.core.bulk import insert_rows
from fdoctor.core.periods import parse_period
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

# Assessments inserted (with their items and audit entries) per batch: 2,000 teams' rows, their
# audit snapshots and the JSON sent for them at once took the L1 open past 500 MB at city scale.
_OPEN_CHUNK = 250


@dataclass
class OpenResult:
    level: str
    period: str
    created: list[int] = field(default_factory=list)
    existing: int = 0

    @property
    def message(self) -> str:
        return f"{LEVEL_LABELS[self.level]} {self.period}：新开启 {len(self.created)} 份，已存在 {self.existing} 份"


def _assessees(level: str, within: OrgUnit | None, unit_ids: Iterable[int] | None) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.kind == ASSESSEE_KIND[level], OrgUnit.active.is_(True))
    if within is not None and within.kind != "city":
        stmt = stmt.where(OrgUnit.path.startswith(within.path))
    if unit_ids is not None:
        stmt = stmt.where(OrgUnit.id.in_(list(unit_ids)))
    return list(db.session.scalars(stmt.order_by(OrgUnit.code)))


def _city_id() -> int | None:
    return db.session.scalar(select(OrgUnit.id).where(OrgUnit.kind == "city").order_by(OrgUnit.id))


def _assessor_unit_id(level: str, unit: OrgUnit, city_id: int | None) -> int | None:
    if level == "L1":
        return unit.id
    if level == "L2":
        return unit.institution_id
    if level == "L3":
        return unit.county_id
    return city_id


def _place(level: str, unit: OrgUnit) -> tuple[int | None, int | None, int | None]:
    """(county_id, institution_id, team_id) of the assessee, for the scope filter."""
    kind = ASSESSEE_KIND[level]
    if kind == "team":
        return unit.county_id, unit.institution_id, unit.id
    if kind == "institution":
        return unit.county_id, unit.id, None
    return unit.id, None, None


def open_assessments(
    level: str,
    period: Period | str,
    within: OrgUnit | None = None,
    unit_ids: Iterable[int] | None = None,
) -> OpenResult:
    """Open one assessment per assessee of ``level`` for ``period``; idempotent. Flushes.

    ``within`` limits opening to assessees under one unit (an assessor opening its own); an
    assessee that already has an assessment of this level and period (any revision) is skipped.
    A period that has not ended by the clock's today is refused (``ensure_judgeable``).
    """
    level = parse_level(level)
    period = _openable_period(level, period)
    result = OpenResult(level=level, period=str(period))
    units = _assessees(level, within, unit_ids)
    missing = _without_assessment(level, period, units)
    result.existing = len(units) - len(missing)
    if missing:
        result.created = _open_for(level, period, missing)
    return result


def _openable_period(level: str, period: Period | str) -> Period:
    """The period, parsed, of the level's kind and ended (else refused)."""
    if isinstance(period, str):
        period = parse_period(period, level, error=invalid_period)
    lvl = tier(level)
    if period.kind != lvl.period_kind:
        raise AssessmentError(
            f"{LEVEL_LABELS[level]}按{lvl.period_kind.label}考核，不能用于周期「{period}」", 422
        )
    ensure_judgeable(period, f"开启{LEVEL_LABELS[level]}")
    return period


def _without_assessment(level: str, period: Period, units: list[OrgUnit]) -> list[OrgUnit]:
    """The units that have no assessment of this level and period yet (any revision)."""
    if not units:
        return []
    have = set(
        db.session.scalars(
            select(Assessment.unit_id).where(
                Assessment.level == level,
                Assessment.period == str(period),
                Assessment.unit_id.in_([u.id for u in units]),
            )
        )
    )
    return [u for u in units if u.id not in have]


def _open_for(level: str, period: Period, units: list[OrgUnit]) -> list[int]:
    """Open the assessments of ``units`` in batches of ``_OPEN_CHUNK``; their ids in order."""
    start, end = period.covers
    values = assessee_metrics(ASSESSEE_KIND[level], start, end, [u.id for u in units])
    index_of = _index_chooser(period.year, units)
    opening = _Opening(level, period, _city_id(), clock.now(), due_on(tier(level), period))
    created: list[int] = []
    rows: list[dict[str, Any]] = []
    items: list[list[dict[str, Any]]] = []
    for position, unit in enumerate(units):
        choice = index_of(unit)
        unit_items = item_rows(choice.index, values.get(unit.id, {}))
        rows.append(opening.row(unit, choice, unit_items))
        items.append(unit_items)
        if len(rows) == _OPEN_CHUNK or position == len(units) - 1:
            created += _insert_opened(rows, items)
            rows, items = [], []
    return created


def _index_chooser(year: int, units: list[OrgUnit]) -> Callable[[OrgUnit], IndexChoice]:
    """The index file of a unit's county (``choose_index``), read once per county."""
    counties = {
        c.id: c
        for c in db.session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_({u.county_id for u in units if u.county_id}))
        )
    }
    choices: dict[int | None, IndexChoice] = {}

    def index_of(unit: OrgUnit) -> IndexChoice:
        if unit.county_id not in choices:
            choices[unit.county_id] = choose_index(year, counties.get(unit.county_id or -1))
        return choices[unit.county_id]

    return index_of


@dataclass(frozen=True)
class _Opening:
    """What the assessments opened by one call share."""

    level: str
    period: Period
    city_id: int | None
    opened_at: datetime
    due: date

    def row(
        self, unit: OrgUnit, choice: IndexChoice, unit_items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A new assessment's column values (every column but ``id``, in table order)."""
        county, institution, team = _place(self.level, unit)
        row = dict.fromkeys(Assessment.__table__.columns.keys())
        row.update(
            level=self.level,
            period=str(self.period),
            unit_id=unit.id,
            assessor_unit_id=_assessor_unit_id(self.level, unit, self.city_id),
            county_id=county,
            institution_id=institution,
            team_id=team,
            index_code=choice.index.code,
            index_version=str(choice.index.version),
            index_file=choice.file_name,
            index_sha256=choice.sha256,
            status="open",
            revision=1,
            is_current=True,
            flagged=False,
            opened_at=self.opened_at,
            due_on=self.due,
            row_version=1,  # the version counter's first value, as the ORM sets it
        )
        row.update(item_totals(self.level, ((i["dimension"], i["points"]) for i in unit_items)))
        del row["id"]
        return row


def _insert_opened(rows: list[dict[str, Any]], items: list[list[dict[str, Any]]]) -> list[int]:
    """Insert new assessments (``rows``) and their items with Core statements; ids in order.

    The ORM would track 17 objects per assessment (attribute events, multi-row inserts, a
    snapshot of each in the audit listener); here the rows are plain values, inserted with one
    statement per table, and the audit gets the same ``create`` entries (``write_created_rows``,
    the values as given, ids included). Nothing is loaded into the session, so it holds no stale
    copies of the new rows.
    """
    from fdoctor.audit.services import write_created_rows

    db.session.flush()  # the caller's pending changes first, as the ORM flush wrote them
    connection = db.session.connection()
    a_table = Assessment.__table__
    i_table = AssessmentItem.__table__
    postgres = dialect.is_postgresql(connection)
    returned: list[Any]
    if postgres:
        returned = insert_rows(connection, a_table, rows, returning=("unit_id", "id"))
    else:
        returned = list(
            connection.execute(insert(a_table).returning(a_table.c.unit_id, a_table.c.id), rows)
        )
    id_of = {unit_id: assessment_id for unit_id, assessment_id in returned}
    created = [id_of[row["unit_id"]] for row in rows]
    item_values = [
        {"assessment_id": assessment_id, **item}
        for assessment_id, unit_items in zip(created, items, strict=True)
        for item in unit_items
    ]
    if postgres:
        keys = insert_rows(
            connection, i_table, item_values, returning=("id", "assessment_id", "code")
        )
    else:
        connection.execute(insert(i_table), item_values)  # executemany, no RETURNING
        # The new assessments' ids are a range; other transactions may hold ids inside it.
        ours = set(created)
        keys = [
            key
            for key in connection.execute(
                select(i_table.c.id, i_table.c.assessment_id, i_table.c.code).where(
                    i_table.c.assessment_id.between(min(created), max(created))
                )
            )
            if key[1] in ours
        ]
    item_id = {(assessment_id, code): item_id for item_id, assessment_id, code in keys}
    write_created_rows(
        connection,
        "assessment",
        [{**row, "id": assessment_id} for row, assessment_id in zip(rows, created, strict=True)],
    )
    write_created_rows(
        connection,
        "assessment_item",
        [{**item, "id": item_id[(item["assessment_id"], item["code"])]} for item in item_values],
    )
    return created
