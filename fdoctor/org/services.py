"""Org-tree queries: the user's subtree with signed population and denominators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from fdoctor.contracts.models import ContractMember
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit, PopulationFigure

# The ScopedMixin column holding each kind's id (teams: team_id, and so on).
_KIND_COLUMN = {"county": "county_id", "institution": "institution_id", "team": "team_id"}


@dataclass(frozen=True)
class UnitRow:
    unit: OrgUnit
    depth: int
    registered: int | None
    signed: int | None


def subtree(user: Any | None = None, year: int | None = None) -> list[UnitRow]:
    """Every unit the user may see, in tree order, with registered and signed population."""
    year = year or clock.today().year
    units = db.session.scalars(
        select(OrgUnit).where(scope_clause(OrgUnit, user)).order_by(OrgUnit.path)
    ).all()
    registered = dict(
        db.session.execute(
            select(PopulationFigure.org_unit_id, PopulationFigure.count).where(
                PopulationFigure.year == year, PopulationFigure.category == "registered"
            )
        ).all()
    )
    signed: dict[int, int] = {}
    for column in _KIND_COLUMN.values():
        col = getattr(ContractMember, column)
        signed.update(
            db.session.execute(
                select(col, func.count(ContractMember.id))
                .where(ContractMember.is_active, scope_clause(ContractMember, user))
                .group_by(col)
            ).all()
        )
    base_depth = min((u.path.count("/") for u in units), default=0)
    return [
        UnitRow(
            unit=u,
            depth=u.path.count("/") - base_depth,
            registered=registered.get(u.id),
            signed=signed.get(u.id) if u.kind in _KIND_COLUMN else None,
        )
        for u in units
    ]


class OrgError(UserFacingError):
    """A user-facing org-tree error in Chinese."""


# Which kind may sit under which (stations are optional between institution and team).
ALLOWED_PARENTS = {
    "city": {None},
    "pool": {"city"},
    "county": {"pool"},
    "institution": {"county"},
    "station": {"institution"},
    "team": {"institution", "station"},
}


def add_unit(
    code: str, name: str, kind: str, parent: OrgUnit | None, subtype: str | None = None
) -> OrgUnit:
    """Create a unit under ``parent`` with its path and denormalised ancestors. Flushes."""
    if kind not in ALLOWED_PARENTS:
        raise OrgError(f"未知机构类型：{kind}")
    parent_kind = parent.kind if parent is not None else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        raise OrgError(f"“{name}”不能设在该上级机构之下")
    if db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise OrgError(f"机构编码 {code} 已存在")
    unit = OrgUnit(code=code, name=name, kind=kind, subtype=subtype, parent=parent, path="")
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    if kind == "county":
        unit.county_id = unit.id
    elif parent is not None:
        unit.county_id = parent.county_id
    if kind == "institution":
        unit.institution_id = unit.id
    elif parent is not None and kind in {"station", "team"}:
        unit.institution_id = parent.institution_id
    db.session.flush()
    return unit
