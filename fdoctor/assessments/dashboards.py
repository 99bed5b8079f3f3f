"""Assessment dashboards per level (SPEC 9) and the monthly workload report's table and Excel.

* team (团队长): this month's progress against the index targets, from the records so far;
* centre (中心): its teams ranked by their L2 (or, before any L2, L1) totals;
* county (县区): its institutions with their L3 results;
* city (市): every county's L4 reported, spot-check and combined scores.

Each view is a table and a Chart.js payload (``Dashboard.chart``) that
``fdoctor/static/js/assessments.js`` draws; the numbers come from grouped queries, never one query
per unit. The workload report's table is gathered here too; ``fdoctor.reports.workload`` turns it
into Excel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assessments.scoring import score_metric_indicators
from assessments.workload import PointTable, workload_points
from fdoctor.assessments.defaults import dashboard_period
from fdoctor.assessments.formatting import format_metric_target, format_metric_value, format_number
from fdoctor.assessments.indexes import choose_index
from fdoctor.assessments.levels import LEVEL_LABELS
from fdoctor.assessments.models import Assessment, WorkloadReport
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.reports.workload import WorkloadTable


@dataclass
class Cell:
    text: str
    href: str | None = None
    css: str = ""


@dataclass
class Dashboard:
    view: str
    title: str
    subtitle: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: dict[str, Any]
    periods: list[str] = field(default_factory=list)
    period: str | None = None
    note: str = ""


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _periods(level: str, where: Any) -> list[str]:
    found = db.session.scalars(
        select(Assessment.period)
        .where(Assessment.level == level, where, scope_clause(Assessment))
        .distinct()
    ).all()
    return sorted(found, reverse=True)


def _period(level: str, asked: str | None, where: Any, today: date) -> tuple[list[str], str, str]:
    """The periods to offer, the one to show and a note when it is empty.

    Without ``asked``, the latest period that can be judged, or (when that one is not opened
    yet) the newest one with assessments; an asked period is shown even when empty."""
    return dashboard_period(level, asked, _periods(level, where), today)


def _current(level: str, period: str | None, where: Any) -> list[Assessment]:
    if period is None:
        return []
    return list(
        db.session.scalars(
            select(Assessment)
            .where(
                Assessment.level == level,
                Assessment.period == period,
                Assessment.is_current.is_(True),
                where,
                scope_clause(Assessment),
            )
            .options(selectinload(Assessment.unit), selectinload(Assessment.items))
        )
    )


def _link(assessment: Assessment | None, text: str) -> Cell:
    if assessment is None:
        return Cell(text)
    return Cell(text, url_for("assessments.detail", assessment_id=assessment.id))


def _bar(
    labels: list[str],
    datasets: list[tuple[str, list[float | None]]],
    y_max: float | None,
    unit: str,
) -> dict[str, Any]:
    return {
        "type": "bar",
        "labels": labels,
        "datasets": [{"label": label, "data": data} for label, data in datasets],
        "yMax": y_max,
        "unit": unit,
    }


def team_progress(team: OrgUnit, today: date) -> Dashboard:
    """This month's metrics of one team so far, as points against the index's maximum."""
    from fdoctor.assessments.metrics import compute_metrics

    start = today.replace(day=1)
    county = db.session.get(OrgUnit, team.county_id) if team.county_id else None
    choice = choose_index(today.year, county)
    values = compute_metrics("team", start, today, unit_ids=[team.id]).get(team.id, {})
    by_code = {
        ind.code: (values[ind.metric].value if ind.metric in values else None)
        for ind in choice.index.indicators
        if ind.metric
    }
    scored, unscorable = score_metric_indicators(choice.index, by_code)
    rows: list[list[Cell]] = []
    labels: list[str] = []
    progress: list[float | None] = []
    for ind in choice.index.indicators:
        if not ind.metric:
            continue
        mv = values.get(ind.metric)
        result = scored.get(ind.code)
        share = None if result is None else float(result.points / ind.max_points * 100)
        css = (
            ""
            if share is None
            else ("text-success" if share >= 100 else "text-danger" if share < 60 else "")
        )
        rows.append(
            [
                Cell(ind.code),
                Cell(ind.name),
                Cell(format_metric_value(ind.metric, None if mv is None else mv.value)),
                Cell(format_metric_target(ind.metric, ind.target)),
                Cell(
                    "—"
                    if result is None
                    else f"{format_number(result.points)} / {format_number(ind.max_points)}"
                ),
                Cell("—" if share is None else f"{share:.0f}%", css=css),
                Cell(mv.detail if mv is not None else unscorable.get(ind.code, "")),
            ]
        )
        labels.append(f"{ind.code} {ind.name}")
        progress.append(None if share is None else round(share, 1))
    return Dashboard(
        view="team",
        title=f"{team.name} · 本月进度",
        subtitle=f"{start.isoformat()} 至 {today.isoformat()}，按 {choice.index.code} 的目标折算得分（手工评分指标不含）",
        columns=["编号", "指标", "本月数值", "目标", "折算得分", "完成度", "计算说明"],
        rows=rows,
        chart=_bar(labels, [("完成度（%）", progress)], 100, "%"),
    )


def centre_ranking(
    institution: OrgUnit, period: str | None, today: date, level: str | None = None
) -> Dashboard:
    """The institution's teams ranked by total in one L2 (or L1) period."""
    where = Assessment.institution_id == institution.id
    if level not in ("L1", "L2"):
        # The centre's own L2; its teams' L1 while no L2 is opened yet.
        level = "L1" if not _periods("L2", where) and _periods("L1", where) else "L2"
    periods, period, note = _period(level, period, where, today)
    rows_a = sorted(
        (a for a in _current(level, period, where) if a.team_id is not None),
        key=lambda a: (a.total is None, -(a.total or 0), a.unit.name),
    )
    rows = [
        [
            Cell(str(n)),
            _link(a, a.unit.name),
            Cell(format_number(a.total)),
            Cell(format_number(a.dimension_a)),
            Cell(format_number(a.dimension_b)),
            Cell(format_number(a.dimension_c)),
            Cell(a.status_label),
        ]
        for n, a in enumerate(rows_a, start=1)
    ]
    return Dashboard(
        view="centre",
        title=f"{institution.name} · 团队排名",
        subtitle=f"{LEVEL_LABELS[level]} {period}",
        columns=["名次", "团队", "总分", "团队管理", "服务功能", "服务效果", "状态"],
        rows=rows,
        chart=_bar(
            [a.unit.name for a in rows_a], [("总分", [_f(a.total) for a in rows_a])], 100, "分"
        ),
        periods=periods,
        period=period,
        note=note,
    )


def county_table(county: OrgUnit, period: str | None, today: date) -> Dashboard:
    """The county's institutions with their L3 results of one half-year."""
    where = Assessment.county_id == county.id
    periods, period, note = _period("L3", period, where, today)
    found = {a.unit_id: a for a in _current("L3", period, where)}
    institutions = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.kind == "institution", OrgUnit.county_id == county.id)
        .order_by(OrgUnit.code)
    ).all()
    rows = []
    for inst in institutions:
        a = found.get(inst.id)
        signed = (
            next((i.numerator for i in a.items if i.metric == "signing_coverage"), None)
            if a
            else None
        )
        rows.append(
            [
                _link(a, inst.name),
                Cell(inst.kind_label),
                Cell("—" if signed is None else f"{int(signed):,}"),
                Cell(format_number(a.total) if a else "—"),
                Cell(format_number(a.dimension_a) if a else "—"),
                Cell(format_number(a.dimension_b) if a else "—"),
                Cell(format_number(a.dimension_c) if a else "—"),
                Cell(a.status_label if a else "未开启"),
            ]
        )
    return Dashboard(
        view="county",
        title=f"{county.name} · 各机构三级考核",
        subtitle=f"{LEVEL_LABELS['L3']} {period}",
        columns=["机构", "类型", "签约人数", "总分", "团队管理", "服务功能", "服务效果", "状态"],
        rows=rows,
        chart=_bar(
            [inst.name for inst in institutions],
            [("总分", [_f(found[i.id].total) if i.id in found else None for i in institutions])],
            100,
            "分",
        ),
        periods=periods,
        period=period,
        note=note,
    )


def city_view(period: str | None, today: date) -> Dashboard:
    """Every county's L4 result of one year: reported, spot check, combined, flag."""
    where = Assessment.level == "L4"
    periods, period, note = _period("L4", period, where, today)
    found = {a.unit_id: a for a in _current("L4", period, where)}
    counties = db.session.scalars(
        select(OrgUnit).where(OrgUnit.kind == "county").order_by(OrgUnit.code)
    ).all()
    rows = []
    for county in counties:
        a = found.get(county.id)
        rows.append(
            [
                _link(a, county.name),
                Cell(format_number(a.reported_score) if a else "—"),
                Cell(format_number(a.spot_check_score) if a else "—"),
                Cell(format_number(a.total) if a else "—"),
                Cell(
                    ("⚠ " + (a.flag_reason or "")) if a and a.flagged else "—",
                    css="text-danger" if a and a.flagged else "",
                ),
                Cell(a.status_label if a else "未开启"),
            ]
        )
    return Dashboard(
        view="city",
        title="全市 · 各县区市级年度考核",
        subtitle=f"{LEVEL_LABELS['L4']} {period}",
        columns=["县区", "上报得分", "抽查得分", "市级得分", "标记", "状态"],
        rows=rows,
        chart=_bar(
            [c.name for c in counties],
            [
                (
                    "上报得分",
                    [_f(found[c.id].reported_score) if c.id in found else None for c in counties],
                ),
                (
                    "抽查得分",
                    [_f(found[c.id].spot_check_score) if c.id in found else None for c in counties],
                ),
                ("市级得分", [_f(found[c.id].total) if c.id in found else None for c in counties]),
            ],
            100,
            "分",
        ),
        periods=periods,
        period=period,
        note=note,
    )


def dashboard_data(
    view: str, unit: OrgUnit, period: str | None, today: date, level: str | None = None
) -> Dashboard:
    if view == "team":
        return team_progress(unit, today)
    if view == "centre":
        return centre_ranking(unit, period, today, level)
    if view == "county":
        return county_table(unit, period, today)
    return city_view(period, today)


# --------------------------------------------------------------------------- workload report


def workload_table(report: WorkloadReport, table: PointTable | None = None) -> WorkloadTable:
    """The report's rows pivoted: one line per team, one column per service type; with a point
    table, each line's workload points too (``assessments.workload.workload_points``)."""
    from fdoctor.records.models import SERVICE_TYPES

    unit_ids = {row.team_id for row in report.rows} | {row.institution_id for row in report.rows}
    names = (
        dict(
            db.session.execute(
                select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(unit_ids))
            ).all()
        )
        if unit_ids
        else {}
    )
    present = {row.service_type for row in report.rows}
    types = [(t, label) for t, (_, label) in SERVICE_TYPES.items() if t in present]
    types += [(t, t) for t in sorted(present - set(SERVICE_TYPES))]
    position = {t: n for n, (t, _) in enumerate(types)}
    lines: dict[tuple[int, int], list[int]] = {}
    for row in report.rows:
        counts = lines.setdefault((row.institution_id, row.team_id), [0] * len(types))
        counts[position[row.service_type]] += row.count
    ordered = sorted(
        lines.items(), key=lambda kv: (names.get(kv[0][0], ""), names.get(kv[0][1], ""))
    )
    rows = [
        (names.get(inst, ""), names.get(team, ""), counts, sum(counts))
        for (inst, team), counts in ordered
    ]
    totals = [sum(r[2][n] for r in rows) for n in range(len(types))]
    points = None
    if table is not None:
        points = [
            workload_points(
                {t: n for (t, _), n in zip(types, counts, strict=True) if n and t in table.points},
                table,
            )
            for _inst, _team, counts, _total in rows
        ]
    return WorkloadTable(
        title=f"{report.county.name} {report.period} 工作量报表",
        period=report.period,
        types=types,
        rows=rows,
        totals=totals,
        total=sum(totals),
        points=points,
        total_points=sum(points, Decimal(0)) if points is not None else None,
        point_table=table.name if table is not None else "",
    )
