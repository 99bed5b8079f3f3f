"""Opening assessments (开启考核), filling their indicators, and the L4 municipal check.

Who assesses whom (SPEC 5):

=====  =====================  ============================  ===============  ==================
level  assessee (grain)       assessor unit                 assessor role    assessee role
=====  =====================  ============================  ===============  ==================
L1     every team             the team itself (自查)         team_leader      team_leader
L2     every team             its institution               centre_admin     team_leader
L3     every institution      its county                    county_auditor   centre_admin
L4     every county           the city                      city_admin       county_auditor
L4S    each sampled inst.     the city (市级抽查)            city_admin       centre_admin
=====  =====================  ============================  ===============  ==================

Stations are not assessed at L2: no role is attached to a station (``ROLE_UNIT_KINDS``), so nobody
could acknowledge or appeal a station's result; the station's work counts in its teams.

Items are filled from ``fdoctor.assessments.metrics.compute_metrics`` at the assessee's grain over
``Period.covers`` and scored with the index file in force (a county's own file
``{region_code}-{year}.toml`` when there is one, else the city's). A metric whose value is ``None``
(no events) on an indicator without ``when_empty`` cannot be scored from the records: the item is
marked ``manual`` and the assessor must enter its points (with a reason below the maximum) before
submitting, like the index's own manual indicators.

L4: the city draws the spot check (``draw_l4_spot_check``); each drawn institution gets an ``L4S``
assessment that the city scores with the same index as the county's L3 (so the two are comparable).
The county's L4 total is ``0.4 × reported + 0.6 × spot check`` (weights configurable), where
reported is the signed-population-weighted mean of its institutions' current year-end (H2) L3 totals
and spot check is the mean of the sampled institutions' L4S totals. A county is flagged when a
sampled institution's L3 total exceeds its L4S total by more than 10 points. The arithmetic is the
core's ``assessments.l4.combine_l4``; this module reads the rows and stores the result. The L4 items
(the index at county grain) are scored too: they feed the county's rectification items, but not its
total.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import insert, select

from assessments.index import Index, IndexFileError
from assessments.index_files import INDEXES_DIR, default_index_path, load_index
from assessments.l4 import (
    DEFAULT_FLAG_POINTS,
    DEFAULT_REPORTED_WEIGHT,
    DEFAULT_SPOT_WEIGHT,
    L4Rules,
    ReportedResult,
    SampleCheck,
    combine_l4,
)
from assessments.sampling import SPOT_CHECK_MINIMUM, SamplingError, draw_spot_check, new_seed
from assessments.scoring import IndicatorScore, Unscorable, score_indicator
from assessments.tiers import (
    ASSESSMENT_LEVEL_LABELS,
    ASSESSMENT_LEVELS,
    SPOT_CHECK_LEVEL,
    Level,
    Period,
    PeriodNotEnded,
    due_on,
    ensure_period_ended,
    level_tier,
)
from fdoctor.assessments.models import (
    Assessment,
    AssessmentItem,
    SpotCheckDraw,
    SpotCheckDrawItem,
)
from fdoctor.core import clock, dialect
from fdoctor.core.bulk import insert_rows
from fdoctor.core.errors import UserFacingError
from fdoctor.core.periods import parse_period
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

SPOT_LEVEL = SPOT_CHECK_LEVEL
LEVELS = ASSESSMENT_LEVELS
LEVEL_LABELS = ASSESSMENT_LEVEL_LABELS
ASSESSEE_KIND = {
    "L1": "team",
    "L2": "team",
    "L3": "institution",
    "L4": "county",
    SPOT_LEVEL: "institution",
}
ASSESSOR_ROLE = {
    "L1": Role.TEAM_LEADER,
    "L2": Role.CENTRE_ADMIN,
    "L3": Role.COUNTY_AUDITOR,
    "L4": Role.CITY_ADMIN,
    SPOT_LEVEL: Role.CITY_ADMIN,
}
ASSESSEE_ROLE = {
    "L1": Role.TEAM_LEADER,
    "L2": Role.TEAM_LEADER,
    "L3": Role.CENTRE_ADMIN,
    "L4": Role.COUNTY_AUDITOR,
    SPOT_LEVEL: Role.CENTRE_ADMIN,
}
# Statuses whose scores count as reported (submitted or later, not superseded).
REPORTED_STATUSES = ("submitted", "published", "acknowledged", "appealed")

DEFAULTS: dict[str, Any] = {
    "ASSESSMENT_APPEAL_DAYS": 7,
    "ASSESSMENT_RECTIFICATION_DAYS": 30,
    "ASSESSMENT_L4_REPORTED_WEIGHT": DEFAULT_REPORTED_WEIGHT,
    "ASSESSMENT_L4_SPOT_WEIGHT": DEFAULT_SPOT_WEIGHT,
    "ASSESSMENT_L4_FLAG_POINTS": DEFAULT_FLAG_POINTS,
    "ASSESSMENT_L4_PER_COUNTY": SPOT_CHECK_MINIMUM,
    "ASSESSMENT_INDEXES_DIR": None,
}


class AssessmentError(UserFacingError):
    """A refused assessment operation; the message is Chinese. ``status`` is for JSON answers."""

    status = 409


def setting(name: str) -> Any:
    """An assessment setting from the app config, else its default."""
    if has_app_context() and name in current_app.config:
        value = current_app.config[name]
        if isinstance(DEFAULTS.get(name), Decimal) and not isinstance(value, Decimal):
            return Decimal(str(value))
        return value
    return DEFAULTS[name]


def tier(level: str) -> Level:
    """The tier calendar's level for an assessment level (the spot check follows L4)."""
    return level_tier(level)


def parse_level(text: str) -> str:
    level = (text or "").strip().upper()
    if level not in LEVELS:
        raise AssessmentError(f"未知的考核层级「{text}」，可选：L1、L2、L3、L4", 422)
    return level


def invalid_period(message: str) -> AssessmentError:
    """The refusal of a malformed period, or one of another kind than its level's
    (``fdoctor.core.periods.parse_period(text, level, error=invalid_period)``)."""
    return AssessmentError(message, 422)


def ensure_judgeable(period: Period, action: str) -> None:
    """Refuse (409) to open, draw or sample for ``period`` before it ends, by the clock's today."""
    try:
        ensure_period_ended(period, clock.today(), action)
    except PeriodNotEnded as exc:
        raise AssessmentError(str(exc), 409) from None


# --------------------------------------------------------------------------- index files


@dataclass(frozen=True)
class IndexChoice:
    index: Index
    file_name: str
    sha256: str


def _indexes_dir() -> Path:
    configured = setting("ASSESSMENT_INDEXES_DIR")
    return Path(configured) if configured else INDEXES_DIR


def choose_index(year: int, county: OrgUnit | None) -> IndexChoice:
    """The county's own index file for the year if it has one, else the city's."""
    folder = _indexes_dir()
    path: Path | None = None
    if county is not None and county.region_code:
        candidate = folder / f"{county.region_code}-{year}.toml"
        if candidate.is_file():
            path = candidate
    try:
        if path is None:
            path = default_index_path(year, folder)
        index = load_index(path)
    except IndexFileError as exc:
        raise AssessmentError(str(exc), 422) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return IndexChoice(index=index, file_name=path.name, sha256=digest)


def stored_index(assessment: Assessment) -> Index:
    """The index file an assessment was opened with; refused if the file changed since."""
    path = _indexes_dir() / (assessment.index_file or "")
    if not assessment.index_file or not path.is_file():
        raise AssessmentError(f"找不到开启考核时使用的指标文件 {assessment.index_file}", 409)
    if hashlib.sha256(path.read_bytes()).hexdigest() != assessment.index_sha256:
        raise AssessmentError(
            f"指标文件 {assessment.index_file} 在开启考核后已被修改，不能按新文件重新计算", 409
        )
    try:
        return load_index(path)
    except IndexFileError as exc:
        raise AssessmentError(str(exc), 422) from None


# --------------------------------------------------------------------------- filling items


def _json_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return json.dumps({str(k): v for k, v in value.items()}, ensure_ascii=False, sort_keys=True)
    return json.dumps(str(value))


def load_value(item: AssessmentItem) -> object:
    """The stored metric value back in the form ``scoring.score`` takes."""
    if item.value is None:
        return None
    raw = json.loads(item.value)
    if isinstance(raw, dict):
        return {k: int(v) for k, v in raw.items()}
    return Decimal(raw)


def score_metric_items(
    index: Index, values: Mapping[str, object]
) -> tuple[dict[str, IndicatorScore], dict[str, str]]:
    """Score the metric indicators, each once; codes that cannot be scored come back with the
    reason (Chinese, for the assessor). ``values`` maps metric indicator codes to values."""
    scored: dict[str, IndicatorScore] = {}
    unscorable: dict[str, str] = {}
    for indicator in index.indicators:
        if indicator.is_manual:
            continue
        result = score_indicator(indicator, values.get(indicator.code))
        if isinstance(result, Unscorable):
            unscorable[indicator.code] = _unscorable_reason(result)
        else:
            scored[indicator.code] = result
    return scored, unscorable


def _unscorable_reason(result: Unscorable) -> str:
    if result.kind == "no_data":
        return "无统计对象，且该指标未规定无数据时的得分，须由考核人员评分"
    return f"指标数值无法计分（{result.message}），须由考核人员评分"


def item_rows(
    index: Index,
    metric_values: Mapping[str, Any],
    kept: Mapping[str, tuple[Decimal | None, str | None]] | None = None,
) -> list[dict[str, Any]]:
    """The items of one assessment as column values (every column but ``id`` and
    ``assessment_id``), in index order.

    ``metric_values`` maps metric names to ``MetricValue``; ``kept`` maps the codes of items an
    assessor already scored by hand to their (points, reason), kept when the indicator still
    cannot be scored from the records. Pure: used by ``fill_items`` (refreshing existing items
    through the ORM) and by ``open_assessments`` (inserting new ones in bulk).
    """
    kept = kept or {}
    values: dict[str, object] = {}
    for indicator in index.indicators:
        if indicator.metric:
            mv = metric_values.get(indicator.metric)
            values[indicator.code] = None if mv is None else mv.value
    scored, unscorable = score_metric_items(index, values)
    rows = []
    for indicator in index.indicators:
        mv = metric_values.get(indicator.metric) if indicator.metric else None
        row: dict[str, Any] = {
            "code": indicator.code,
            "name": indicator.name,
            "dimension": indicator.dimension,
            "max_points": indicator.max_points,
            "rule": indicator.rule.kind,
            "metric": indicator.metric,
            "target": indicator.target,
            "description": indicator.description,
            "numerator": None if mv is None else mv.numerator,
            "denominator": None if mv is None else mv.denominator,
            "value": None if mv is None else _json_value(mv.value),
            "drill": None if mv is None else json.dumps(dict(mv.drill or {}), ensure_ascii=False),
        }
        if indicator.metric:
            row["detail"] = mv.detail if mv is not None else "未取得该指标的统计结果"
        else:
            row["detail"] = None
        if indicator.code in scored:
            result = scored[indicator.code]
            row["source"] = "metric"
            row["points"] = result.points
            row["reason"] = None
            row["score_detail"] = result.detail
        else:
            row["source"] = "manual"
            row["points"], row["reason"] = kept.get(indicator.code, (None, None))
            row["score_detail"] = unscorable.get(indicator.code)
        rows.append(row)
    return rows


def fill_items(
    assessment: Assessment, index: Index, metric_values: Mapping[str, Any], keep_manual: bool
) -> None:
    """Create or update the items from the metric values (``metric name → MetricValue``), and the
    totals, through the ORM (``refresh_metrics``). Does not flush. With ``keep_manual``, points an
    assessor gave by hand stay when the indicator still cannot be scored from the records."""
    existing = {item.code: item for item in assessment.items}
    kept = (
        {
            code: (item.points, item.reason)
            for code, item in existing.items()
            if item.source == "manual" and item.points is not None
        }
        if keep_manual
        else None
    )
    for row in item_rows(index, metric_values, kept):
        item = existing.get(row["code"])
        if item is None:
            item = AssessmentItem(assessment=assessment, code=row["code"])
            db.session.add(item)
        for name, value in row.items():
            setattr(item, name, value)
    recompute_totals(assessment)


def item_totals(level: str, items: Iterable[tuple[str, Decimal | None]]) -> dict[str, Any]:
    """Dimension subtotals and the total (not for L4, whose total is combined otherwise) of
    (dimension, points) pairs: sums of the rounded points, once all are in, else None."""
    pairs = list(items)
    complete = bool(pairs) and all(points is not None for _, points in pairs)
    dims: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for dimension, points in pairs:
        if points is not None:
            dims[dimension] += points
    totals: dict[str, Any] = {
        "dimension_a": dims["A"] if complete else None,
        "dimension_b": dims["B"] if complete else None,
        "dimension_c": dims["C"] if complete else None,
    }
    if level != "L4":
        totals["total"] = sum(dims.values(), Decimal("0.00")) if complete else None
    return totals


def recompute_totals(assessment: Assessment) -> None:
    """Dimension subtotals and the total: sums of the items' rounded points, once all are in."""
    totals = item_totals(assessment.level, ((i.dimension, i.points) for i in assessment.items))
    for name, value in totals.items():
        setattr(assessment, name, value)


def item_sum(assessment: Assessment) -> Decimal | None:
    """The index score of the items (for L4 this is not the total)."""
    items = list(assessment.items)
    if not items or any(item.points is None for item in items):
        return None
    return sum((item.points for item in items if item.points is not None), Decimal("0.00"))


# --------------------------------------------------------------------------- opening


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
    if isinstance(period, str):
        period = parse_period(period, level, error=invalid_period)
    lvl = tier(level)
    if period.kind != lvl.period_kind:
        raise AssessmentError(
            f"{LEVEL_LABELS[level]}按{lvl.period_kind.label}考核，不能用于周期「{period}」", 422
        )
    ensure_judgeable(period, f"开启{LEVEL_LABELS[level]}")
    result = OpenResult(level=level, period=str(period))
    units = _assessees(level, within, unit_ids)
    if not units:
        return result
    have = set(
        db.session.scalars(
            select(Assessment.unit_id).where(
                Assessment.level == level,
                Assessment.period == str(period),
                Assessment.unit_id.in_([u.id for u in units]),
            )
        )
    )
    missing = [u for u in units if u.id not in have]
    result.existing = len(units) - len(missing)
    if not missing:
        return result

    from fdoctor.assessments.metrics import compute_metrics

    start, end = period.covers
    grain = ASSESSEE_KIND[level]
    values = _metrics(compute_metrics, grain, start, end, [u.id for u in missing])
    counties = {
        c.id: c
        for c in db.session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_({u.county_id for u in missing if u.county_id}))
        )
    }
    choices: dict[int | None, IndexChoice] = {}
    city_id = _city_id()
    now = clock.now()
    due = due_on(lvl, period)
    columns = Assessment.__table__.columns.keys()
    rows: list[dict[str, Any]] = []
    items: list[list[dict[str, Any]]] = []
    for position, unit in enumerate(missing):
        county_id = unit.county_id
        if county_id not in choices:
            choices[county_id] = choose_index(period.year, counties.get(county_id or -1))
        choice = choices[county_id]
        county, institution, team = _place(level, unit)
        unit_items = item_rows(choice.index, values.get(unit.id, {}))
        row = dict.fromkeys(columns)
        row.update(
            level=level,
            period=str(period),
            unit_id=unit.id,
            assessor_unit_id=_assessor_unit_id(level, unit, city_id),
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
            opened_at=now,
            due_on=due,
            row_version=1,  # the version counter's first value, as the ORM sets it
        )
        row.update(item_totals(level, ((i["dimension"], i["points"]) for i in unit_items)))
        del row["id"]
        rows.append(row)
        items.append(unit_items)
        if len(rows) == _OPEN_CHUNK or position == len(missing) - 1:
            result.created += _insert_opened(rows, items)
            rows, items = [], []
    return result


# Assessments inserted (with their items and audit entries) per batch: 2,000 teams' rows, their
# audit snapshots and the JSON sent for them at once took the L1 open past 500 MB at city scale.
_OPEN_CHUNK = 250


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


def _metrics(
    compute: Any, grain: str, start: date, end: date, unit_ids: list[int]
) -> dict[int, Any]:
    try:
        result: dict[int, Any] = compute(grain, start, end, unit_ids=unit_ids)
    except ValueError as exc:
        raise AssessmentError(f"指标计算失败：{exc}", 422) from None
    return result


def refresh_metrics(assessment: Assessment) -> None:
    """Fill the metric items again from the records (late entries); manual points are kept."""
    from fdoctor.assessments.metrics import compute_metrics

    index = stored_index(assessment)
    period = parse_period(assessment.period, assessment.level, error=invalid_period)
    start, end = period.covers
    values = _metrics(
        compute_metrics, ASSESSEE_KIND[assessment.level], start, end, [assessment.unit_id]
    )
    fill_items(assessment, index, values.get(assessment.unit_id, {}), keep_manual=True)
    db.session.flush()


# --------------------------------------------------------------------------- L4 spot check


def _candidates() -> dict[int, list[int]]:
    """Active institutions per active county, in code order."""
    rows = db.session.execute(
        select(OrgUnit.county_id, OrgUnit.id)
        .where(
            OrgUnit.kind == "institution", OrgUnit.active.is_(True), OrgUnit.county_id.is_not(None)
        )
        .order_by(OrgUnit.code)
    ).all()
    counties = set(
        db.session.scalars(
            select(OrgUnit.id).where(OrgUnit.kind == "county", OrgUnit.active.is_(True))
        )
    )
    grouped: dict[int, list[int]] = {county: [] for county in counties}
    for county_id, inst_id in rows:
        if county_id in grouped:
            grouped[county_id].append(inst_id)
    return grouped


def draw_for(year: int) -> SpotCheckDraw | None:
    return db.session.scalar(select(SpotCheckDraw).where(SpotCheckDraw.year == year))


def draw_l4_spot_check(
    year: int, seed: int | None = None, user: Any | None = None
) -> SpotCheckDraw:
    """Draw (once per year) at least 2 institutions per county for the municipal spot check.

    The seed and every candidate are stored; a second call returns the stored draw. The drawn
    institutions get their L4S assessments opened (idempotent). Flushes. Refused before the
    year has ended (by the clock's today).
    """
    period = Period.of_year(year)
    ensure_judgeable(period, "抽取市级抽查机构")
    draw = draw_for(year)
    if draw is not None:
        if seed is not None and seed != draw.seed:
            raise AssessmentError(f"{year} 年度已抽取（随机种子 {draw.seed}），不能换种子重抽", 409)
    else:
        per_county = int(setting("ASSESSMENT_L4_PER_COUNTY"))
        candidates = _candidates()
        chosen_seed = new_seed() if seed is None else seed
        try:
            drawn = draw_spot_check(candidates, chosen_seed, per_county)
        except SamplingError as exc:
            raise AssessmentError(str(exc), 422) from None
        draw = SpotCheckDraw(
            year=year,
            seed=chosen_seed,
            per_county=per_county,
            drawn_at=clock.now(),
            drawn_by_id=getattr(user, "id", None),
        )
        db.session.add(draw)
        db.session.flush()
        for county_id, institutions in candidates.items():
            order = {inst: n for n, inst in enumerate(drawn[county_id], start=1)}
            for inst in institutions:
                db.session.add(
                    SpotCheckDrawItem(
                        draw_id=draw.id,
                        county_id=county_id,
                        institution_id=inst,
                        selected=inst in order,
                        draw_order=order.get(inst),
                    )
                )
        db.session.flush()
    selected = [item.institution_id for item in draw.items if item.selected]
    if selected:
        open_assessments(SPOT_LEVEL, period, unit_ids=selected)
    return draw


def redraw(draw: SpotCheckDraw) -> dict[int, list[int]]:
    """Recompute the draw from its stored seed and candidates (for the audit)."""
    candidates: dict[int, list[int]] = defaultdict(list)
    for item in draw.items:
        candidates[item.county_id].append(item.institution_id)
    return draw_spot_check(candidates, draw.seed, draw.per_county)


def stored_selection(draw: SpotCheckDraw) -> dict[int, list[int]]:
    """The drawn institutions per county in draw order, as stored."""
    selection: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item in draw.items:
        selection.setdefault(item.county_id, [])
        if item.selected and item.draw_order is not None:
            selection[item.county_id].append((item.draw_order, item.institution_id))
    return {county: [inst for _, inst in sorted(rows)] for county, rows in selection.items()}


def draw_is_reproducible(draw: SpotCheckDraw) -> bool:
    return redraw(draw) == stored_selection(draw)


@dataclass(frozen=True)
class L4Breakdown:
    reported: Decimal
    spot: Decimal
    total: Decimal
    flagged: list[str]
    lines: list[str]


def _current(level: str, period: str, unit_ids: Iterable[int]) -> dict[int, Assessment]:
    ids = list(unit_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Assessment).where(
            Assessment.level == level,
            Assessment.period == period,
            Assessment.unit_id.in_(ids),
            Assessment.is_current.is_(True),
        )
    )
    return {a.unit_id: a for a in rows}


def _signed_population(assessment: Assessment) -> Decimal:
    """Signed residents of the assessee: the numerator of its signing-coverage item."""
    for item in assessment.items:
        if item.metric == "signing_coverage" and item.numerator is not None:
            return Decimal(item.numerator)
    return Decimal(0)


def compute_l4(assessment: Assessment) -> L4Breakdown:
    """Combine a county's reported L3 year-end results with the city's spot check. Flushes."""
    if assessment.level != "L4":
        raise AssessmentError("只有市级年度考核需要合成县区得分", 409)
    year = int(assessment.period)
    county = assessment.unit
    institutions = list(
        db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "institution", OrgUnit.county_id == county.id)
        )
    )
    names = {inst.id: inst.name for inst in institutions}
    l3 = _current("L3", f"{year}-H2", names)
    reported_rows = {
        uid: a for uid, a in l3.items() if a.status in REPORTED_STATUSES and a.total is not None
    }
    if not reported_rows:
        raise AssessmentError(
            f"{county.name}尚无已提交的 {year} 年终（H2）三级考核结果，不能合成市级得分", 409
        )
    draw = draw_for(year)
    if draw is None:
        raise AssessmentError(f"{year} 年度尚未抽取市级抽查机构", 409)
    sampled = [item for item in draw.items if item.selected and item.county_id == county.id]
    if not sampled:
        raise AssessmentError(f"{county.name}没有被抽中的机构", 409)
    spots = _current(SPOT_LEVEL, str(year), [item.institution_id for item in sampled])
    not_ready = [
        names.get(item.institution_id, str(item.institution_id))
        for item in sampled
        if item.institution_id not in spots
        or spots[item.institution_id].status not in REPORTED_STATUSES
        or spots[item.institution_id].total is None
    ]
    if not_ready:
        raise AssessmentError(
            f"抽查机构{'、'.join(not_ready)}的市级评分尚未提交，不能合成市级得分", 409
        )

    rules = L4Rules(
        reported_weight=setting("ASSESSMENT_L4_REPORTED_WEIGHT"),
        spot_weight=setting("ASSESSMENT_L4_SPOT_WEIGHT"),
        flag_points=setting("ASSESSMENT_L4_FLAG_POINTS"),
    )
    reported = [
        ReportedResult(_signed_population(a), a.total)
        for a in reported_rows.values()
        if a.total is not None
    ]
    checks = []
    for item in sampled:
        own = l3.get(item.institution_id)
        spot_total = spots[item.institution_id].total
        assert spot_total is not None  # checked above
        checks.append(
            SampleCheck(
                name=str(names.get(item.institution_id)),
                spot_total=spot_total,
                reported_total=(
                    own.total if own is not None and own.status in REPORTED_STATUSES else None
                ),
            )
        )
    result = combine_l4(reported, checks, rules)
    for item, sample in zip(sampled, result.samples, strict=True):
        item.spot_score = sample.spot_total
        item.reported_score = sample.reported_total
        item.flagged = sample.flagged
    assessment.reported_score = result.reported
    assessment.spot_check_score = result.spot
    assessment.total = result.total
    assessment.flagged = bool(result.flagged)
    assessment.flag_reason = result.flag_reason(rules)
    db.session.flush()
    return L4Breakdown(
        reported=result.reported,
        spot=result.spot,
        total=result.total,
        flagged=list(result.flagged),
        lines=list(result.lines),
    )


# --------------------------------------------------------------------------- drill-down


def item_records_query(assessment: Assessment, item: AssessmentItem) -> Any:
    """The rows behind an item's numerator (a ``Select``), or None for manual indicators."""
    if not item.metric:
        return None
    from fdoctor.assessments.metrics import metric_records_query

    period = parse_period(assessment.period, assessment.level, error=invalid_period)
    start, end = period.covers
    return metric_records_query(
        item.metric, ASSESSEE_KIND[assessment.level], assessment.unit_id, start, end
    )


def assessment_chain(assessment: Assessment) -> list[Assessment]:
    """Every revision of the same (level, period, assessee), oldest first."""
    return list(
        db.session.scalars(
            select(Assessment)
            .where(
                Assessment.level == assessment.level,
                Assessment.period == assessment.period,
                Assessment.unit_id == assessment.unit_id,
            )
            .order_by(Assessment.revision)
        )
    )


def unit_leader(unit_id: int, role: Role) -> Any:
    """The first active user of ``role`` attached to the unit (the owner of its rectifications)."""
    from fdoctor.auth.models import User

    return db.session.scalar(
        select(User)
        .where(User.org_unit_id == unit_id, User.role == role.value, User.active.is_(True))
        .order_by(User.id)
    )


# --------------------------------------------------------------------------- display


def _plain(value: Decimal, places: int = 2) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(item: AssessmentItem) -> str:
    """The metric value as people read it: 35.2%, 4.1 人次/百人·月, 投诉 1 起 …"""
    if not item.metric:
        return "—"
    return format_metric_value(item.metric, load_value(item))


def format_metric_value(metric_name: str, value: object) -> str:
    from assessments.index import KNOWN_METRICS

    if value is None:
        return "无统计对象"
    metric = KNOWN_METRICS.get(metric_name)
    kind = metric.kind if metric else "ratio"
    if isinstance(value, Mapping):
        labels = dict(metric.events) if metric else {}
        return "，".join(f"{labels.get(k, k)} {v}" for k, v in value.items())
    number = Decimal(str(value))
    if kind == "ratio":
        return f"{_plain(number * 100, 1)}%"
    if kind == "rate":
        return f"{_plain(number)} 人次/百人·月"
    if kind == "count":
        return f"{_plain(number)} 次/月"
    return f"{_plain(number, 1)} 分"


def format_target(item: AssessmentItem) -> str:
    return format_metric_target(item.metric, item.target)


def format_metric_target(metric_name: str | None, target: Decimal | None) -> str:
    from assessments.index import KNOWN_METRICS

    if target is None:
        return "—"
    metric = KNOWN_METRICS.get(metric_name or "")
    if metric is not None and metric.kind == "ratio":
        return f"{_plain(Decimal(target) * 100, 1)}%"
    return _plain(Decimal(target))


def format_number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return _plain(Decimal(value))
