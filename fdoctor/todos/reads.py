"""What one user must do next (待办), in their unit and role: the read behind the home page's card.

Three sources, each one query (the settlement's missing inputs are gathered as the settlement page
gathers them):

* assessments waiting for this unit as assessor (open the last ended period's, score and submit,
  publish, answer an appeal) or as assessee (acknowledge a published result), and rectification
  items waiting for it;
* the settlement sheets not yet locked: last year's settlement and this year's pre-allocation
  (what is missing to compute them, by responsible unit and role; a sheet waiting for a step);
* from the same gathering, the team leader's members without ratings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from assessments.tiers import Level, Period
from fdoctor.assessments.levels import ASSESSEE_KIND, ASSESSEE_ROLE, ASSESSOR_ROLE, LEVEL_LABELS
from fdoctor.assessments.models import Assessment, Rectification
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.approval import ACTIONS
from fdoctor.settlement.inputs import missing_todos
from fdoctor.settlement.models import Settlement
from fdoctor.todos.items import Todo, todo

LIMIT = 200  # assessments or rectifications listed per source; the list page has the rest
# The roles that take part in assessments or the settlement (a doctor has the work list).
_ACTING_ROLES = frozenset(Role) - {Role.DOCTOR}
_ASSESSOR_STEPS = {
    "open": "评分并提交",
    "draft": "评分并提交",
    "submitted": "审定后公示",
    "appealed": "答复申诉",
}


def todos_for(user: Any, today: date | None = None) -> list[Todo]:
    """Everything ``user``'s role must do at ``user``'s unit, oldest first within each source."""
    role = Role(user.role)
    if role not in _ACTING_ROLES:
        return []
    today = today or clock.today()
    unit = user.org_unit
    city = _city()
    # A city-level user (or the first administrator, who has no unit) acts for the city.
    at_city = unit is None or unit.kind == "city"
    here = city if at_city else unit
    found = _unopened_todos(role, here, today) + _assessment_todos(role, here, today)
    found += _rectification_todos(role, here)
    found += _settlement_todos(city, today)
    units = {here.id if here is not None else None}
    if at_city:
        units |= {None, city.id if city is not None else None}
    return [t for t in found if t.role is role and t.unit_id in units]


def _city() -> OrgUnit | None:
    return db.session.scalar(
        select(OrgUnit).where(OrgUnit.kind == "city").order_by(OrgUnit.id).limit(1)
    )


def _levels(roles: dict[str, Role], role: Role) -> list[str]:
    return [level for level, r in roles.items() if r is role]


# The level each role opens for the units below it (the city's spot check is opened by its draw).
_OPENS = {Role.TEAM_LEADER: "L1", Role.CENTRE_ADMIN: "L2", Role.COUNTY_AUDITOR: "L3",
          Role.CITY_ADMIN: "L4"}  # fmt: skip


def _unopened_todos(role: Role, unit: OrgUnit | None, today: date) -> list[Todo]:
    """The last ended period of the level this role opens, if some of its units lack it (the
    scheduler opens them on the 1st; a missed run is repaired here by hand). Two counts."""
    level = _OPENS.get(role)
    if level is None or unit is None:
        return []
    period = Period.containing(Level(level).period_kind, today).previous()
    kind = ASSESSEE_KIND[level]
    units = db.session.scalar(
        select(func.count(OrgUnit.id)).where(
            OrgUnit.kind == kind, OrgUnit.active, OrgUnit.path.startswith(unit.path)
        )
    )
    opened = db.session.scalar(
        select(func.count(Assessment.id)).where(
            Assessment.level == level,
            Assessment.period == str(period),
            Assessment.assessor_unit_id == unit.id,
            Assessment.is_current,
        )
    )
    missing = (units or 0) - (opened or 0)
    if missing <= 0:
        return []
    text = f"开启{LEVEL_LABELS[level]} {period}（{missing} 个单位尚未开启）"
    return [todo(unit, role, text, "assessments.index", level=level, period=str(period))]


def _assessment_todos(role: Role, unit: OrgUnit | None, today: date) -> list[Todo]:
    if unit is None:
        return []
    as_assessor = _levels(ASSESSOR_ROLE, role)
    as_assessee = _levels(ASSESSEE_ROLE, role)
    if not as_assessor and not as_assessee:
        return []
    rows = db.session.scalars(
        select(Assessment)
        .where(
            Assessment.is_current,
            (
                (Assessment.assessor_unit_id == unit.id)
                & Assessment.level.in_(as_assessor)
                & Assessment.status.in_(tuple(_ASSESSOR_STEPS))
            )
            | (
                (Assessment.unit_id == unit.id)
                & Assessment.level.in_(as_assessee)
                & (Assessment.status == "published")
            ),
        )
        .options(selectinload(Assessment.unit))
        .order_by(Assessment.due_on, Assessment.level, Assessment.period, Assessment.unit_id)
        .limit(LIMIT)
    ).all()
    result = []
    for a in rows:
        name = f"{LEVEL_LABELS[a.level]} {a.period} · {a.unit.name}"
        if a.status == "published":
            step = "查看结果并确认"
            if a.appeal_deadline is not None and a.level != "L1":
                step += f"（如有异议，可在 {a.appeal_deadline.isoformat()} 前申诉）"
        else:
            step = _ASSESSOR_STEPS[a.status]
            if a.status in ("open", "draft") and a.due_on < today:
                step += f"（已逾期，应于 {a.due_on.isoformat()} 前完成）"
            elif a.status in ("open", "draft"):
                step += f"（{a.due_on.isoformat()} 前）"
        result.append(todo(unit, role, f"{name}：{step}", "assessments.detail", assessment_id=a.id))
    return result


def _rectification_todos(role: Role, unit: OrgUnit | None) -> list[Todo]:
    if unit is None:
        return []
    as_owner = _levels(ASSESSEE_ROLE, role)
    as_assessor = _levels(ASSESSOR_ROLE, role)
    rows = db.session.execute(
        select(Rectification, Assessment.level, Assessment.period)
        .join(Assessment, Assessment.id == Rectification.assessment_id)
        .where(
            (
                (Rectification.owner_unit_id == unit.id)
                & Assessment.level.in_(as_owner)
                & (Rectification.status == "open")
            )
            | (
                (Assessment.assessor_unit_id == unit.id)
                & Assessment.level.in_(as_assessor)
                & (Rectification.status == "rectified")
            )
        )
        .order_by(Rectification.deadline, Rectification.id)
        .limit(LIMIT)
    ).all()
    result = []
    for rect, level, period in rows:
        what = f"{LEVEL_LABELS[level]} {period} 指标 {rect.code} {rect.name}"
        if rect.status == "open":
            text = f"整改 {what}（{rect.deadline.isoformat()} 前）"
        else:
            text = f"核验整改 {what}"
        result.append(todo(unit, role, text, "assessments.rectifications"))
    return result


def settlement_years(today: date) -> list[tuple[int, str]]:
    """The sheets due by ``today``: last year's settlement and this year's pre-allocation."""
    return [(today.year - 1, "settlement"), (today.year, "preallocation")]


def _settlement_todos(city: OrgUnit | None, today: date) -> list[Todo]:
    """For each due sheet not yet locked: what is missing, or the step it waits for."""
    wanted = settlement_years(today)
    sheets = {
        (s.year, s.kind): s
        for s in db.session.scalars(
            select(Settlement).where(Settlement.year.in_([year for year, _ in wanted]))
        )
    }
    result: list[Todo] = []
    for year, kind in wanted:
        sheet = sheets.get((year, kind))
        if sheet is not None and sheet.status == "locked":
            continue
        missing = missing_todos(year, kind)
        if missing:
            result += missing
            continue
        label = "结算" if kind == "settlement" else "预拨"
        if sheet is None:
            result.append(
                todo(city, Role.CITY_ADMIN, f"{year} 年度{label}表资料已齐全，请计算草稿",
                     "settlement.index", year=year)
            )  # fmt: skip
            continue
        for action in ACTIONS.values():
            if action.name == "return" or sheet.status not in action.sources:
                continue
            text = (
                f"{year} 年度{label}表（第 {sheet.version} 版，{sheet.status_label}）"
                f"待{action.label}"
            )
            for role in sorted(action.roles):
                result.append(
                    todo(city, Role(role), text, "settlement.detail", settlement_id=sheet.id)
                )
    return result
