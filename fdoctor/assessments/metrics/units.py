"""Who belongs to a unit at each grain (the GROUP BY column), the units themselves and their
population figures, and the checks of ``compute_metrics``' arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from assessments.index import KNOWN_METRICS
from fdoctor.assessments.metrics.predicates import GRAINS, METRICS
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import Complaint

_GRAIN_LABELS = {
    "team": "团队",
    "station": "服务站",
    "institution": "机构",
    "county": "县区",
    "city": "全市",
}

# --------------------------------------------------------------------------- grouping


class _Grain:
    """How rows of each table find their unit at one grain (the GROUP BY column)."""

    def __init__(self, grain: str) -> None:
        if grain not in GRAINS:
            raise ValueError(f"未知的统计层级 {grain!r}，可选：{'、'.join(GRAINS)}")
        self.grain = grain
        # The city grain groups by county and sums per city in Python.
        self.column = "county" if grain == "city" else grain

    def keyed(
        self,
        stmt: Select[Any],
        model: Any,
        household_id: Any = None,
        via: Sequence[tuple[Any, Any]] = (),
    ) -> tuple[Select[Any], Any]:
        """``stmt`` with any joins the key needs, and the key column for rows of ``model``.

        At the station grain rows without ``station_id`` reach it through a household:
        ``household_id`` is that column, ``via`` the joins needed first to reach it.
        """
        if self.column != "station":
            return stmt, getattr(model, f"{self.column}_id")
        if model is ServiceRecord:
            return stmt, ServiceRecord.station_id
        if model is Complaint:
            team = aliased(OrgUnit, name="complaint_team")
            return stmt.join(team, team.id == Complaint.team_id), team.parent_id
        if household_id is None:
            raise ValueError(f"{model.__name__} 无法按服务站统计")
        for target, onclause in via:
            stmt = stmt.join(target, onclause)
        home = aliased(Household, name="unit_household")
        return stmt.join(home, home.id == household_id), home.station_id

    def match(self, key: Any, unit_id: int) -> ColumnElement[bool]:
        """The WHERE clause keeping one unit's rows (drill-down)."""
        if self.grain != "city":
            return key == unit_id
        city = db.session.get(OrgUnit, unit_id)
        if city is None or city.kind != "city":
            raise ValueError(f"单位 {unit_id} 不是市")
        counties = select(OrgUnit.id).where(
            OrgUnit.kind == "county", OrgUnit.path.startswith(city.path)
        )
        return key.in_(counties)


@dataclass(frozen=True)
class _Unit:
    id: int
    kind: str
    parent_id: int | None
    county_id: int | None
    institution_id: int | None
    active: bool


@dataclass(frozen=True)
class _Population:
    count: int | None
    parts_with: int = 0  # when summed from the parts: how many had a figure
    parts: int = 0


def _check_metrics(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in KNOWN_METRICS]
    if unknown:
        raise ValueError(f"未知的指标：{'、'.join(unknown)}，可选：{'、'.join(METRICS)}")
    return wanted


def _check_dates(start: date, end: date, as_of: date) -> None:
    if start > end:
        raise ValueError(f"开始日期 {start} 晚于结束日期 {end}")
    if as_of < start:
        raise ValueError(f"统计截止日 {as_of} 早于开始日期 {start}")
