"""The county's workload point table: the city's default points per service type, and the
county's own where it adapts them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.workload import DEFAULT_POINT_TABLE
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import SERVICE_TYPES
from fdoctor.teamsplit.entry import TeamSplitError, two_place_decimal
from fdoctor.teamsplit.models import PointValue


@dataclass(frozen=True)
class PointRow:
    service_type: str
    label: str
    default: Decimal
    county: Decimal | None

    @property
    def points(self) -> Decimal:
        return self.county if self.county is not None else self.default


def point_rows(county: OrgUnit | None) -> list[PointRow]:
    """The default table's types with the county's overrides (None: the city's default)."""
    overrides: dict[str, Decimal] = {}
    if county is not None:
        overrides = dict(
            db.session.execute(
                select(PointValue.service_type, PointValue.points).where(
                    PointValue.county_id == county.id
                )
            ).all()
        )
    return [
        PointRow(t, SERVICE_TYPES.get(t, ("", t))[1], p, overrides.get(t))
        for t, p in DEFAULT_POINT_TABLE.points.items()
    ]


def _points(text: str, label: str) -> Decimal:
    return two_place_decimal(text, label, lambda value: 0 <= value <= 1000, "在 0 到 1000 之间")


def save_point_values(county: OrgUnit, values: dict[str, str], user: Any) -> int:
    """The county's points per service type; blank = the city's default. All or none."""
    errors: list[str] = []
    parsed: dict[str, Decimal | None] = {}
    for row in point_rows(county):
        text = (values.get(row.service_type) or "").strip()
        if not text:
            parsed[row.service_type] = None
            continue
        try:
            parsed[row.service_type] = _points(text, f"「{row.label}」的点数")
        except TeamSplitError as exc:
            errors.append(str(exc))
    if errors:
        raise TeamSplitError("；".join(errors))
    existing = {
        p.service_type: p
        for p in db.session.scalars(select(PointValue).where(PointValue.county_id == county.id))
    }
    now = clock.now()
    changed = 0
    for service_type, value in parsed.items():
        row = existing.get(service_type)
        if value is None or value == DEFAULT_POINT_TABLE.points[service_type]:
            if row is not None:
                db.session.delete(row)
                changed += 1
            continue
        if row is None:
            row = PointValue(county_id=county.id, service_type=service_type)
            db.session.add(row)
        if row.points != value:
            row.points = value
            row.updated_at, row.updated_by_id = now, getattr(user, "id", None)
            changed += 1
    db.session.flush()
    return changed
