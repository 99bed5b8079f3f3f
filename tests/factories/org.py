"""Org trees, grid cells and population figures.

``make_tree`` is the small tree most tests use; ``make_two_pool_city`` is the settlement tests'
city of two pools, three counties and six teams (drawn in ``tests/factories/settlement.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.org.models import GridCell, OrgUnit, PopulationFigure
from fdoctor.org.services import add_unit

_cells = itertools.count(1)


@dataclass
class Tree:
    city: OrgUnit
    pool: OrgUnit
    county: OrgUnit
    institution: OrgUnit
    station: OrgUnit
    team: OrgUnit
    team2: OrgUnit
    other_county: OrgUnit
    other_team: OrgUnit


def make_tree() -> Tree:
    """A city with one pool, two counties; the first has one institution with two teams."""
    city = add_unit("C", "测试市", "city", None)
    pool = add_unit("C-P1", "市区", "pool", city)
    county = add_unit("410001", "甲区", "county", pool, "district")
    inst = add_unit(
        "410001-01", "甲区东街社区卫生服务中心", "institution", county, "community_centre"
    )
    station = add_unit("410001-01-S1", "东街第一服务站", "station", inst, "community_station")
    team = add_unit("410001-01-T1", "东街一队", "team", station)
    team2 = add_unit("410001-01-T2", "东街二队", "team", inst)
    other = add_unit("410002", "乙县", "county", pool, "county")
    other_inst = add_unit("410002-01", "乙县城关镇卫生院", "institution", other, "township_centre")
    other_team = add_unit("410002-01-T1", "城关一队", "team", other_inst)
    return Tree(city, pool, county, inst, station, team, team2, other, other_team)


def make_two_pool_city() -> dict[str, OrgUnit]:
    """The settlement tests' city, its units by short name (``T1``–``T6`` are the teams)."""
    u: dict[str, OrgUnit] = {}
    u["city"] = add_unit("T", "测试市", "city", None)
    u["市区"] = add_unit("T-P1", "市区", "pool", u["city"])
    u["县市"] = add_unit("T-P2", "县市", "pool", u["city"])
    u["甲区"] = add_unit("410001", "甲区", "county", u["市区"], "district")
    u["乙区"] = add_unit("410002", "乙区", "county", u["市区"], "district")
    u["丙县"] = add_unit("410003", "丙县", "county", u["县市"], "county")
    u["甲一"] = add_unit("410001-01", "甲一中心", "institution", u["甲区"], "community_centre")
    u["甲一站"] = add_unit("410001-01-S1", "甲一服务站", "station", u["甲一"], "community_station")
    u["甲二"] = add_unit("410001-02", "甲二中心", "institution", u["甲区"], "community_centre")
    u["乙一"] = add_unit("410002-01", "乙一中心", "institution", u["乙区"], "community_centre")
    u["丙一"] = add_unit("410003-01", "丙一卫生院", "institution", u["丙县"], "township_centre")
    u["丙一室"] = add_unit("410003-01-S1", "丙一村卫生室", "station", u["丙一"], "village_clinic")
    u["T1"] = add_unit("410001-01-T1", "甲一中心团队", "team", u["甲一"])
    u["T2"] = add_unit("410001-01-T2", "甲一站团队", "team", u["甲一站"])
    u["T3"] = add_unit("410001-02-T1", "甲二中心团队", "team", u["甲二"])
    u["T4"] = add_unit("410002-01-T1", "乙一中心团队", "team", u["乙一"])
    u["T5"] = add_unit("410003-01-T1", "丙一卫生院团队", "team", u["丙一"])
    u["T6"] = add_unit("410003-01-T2", "丙一村卫生室团队", "team", u["丙一室"])
    return u


def make_cell(
    team: OrgUnit,
    code: str | None = None,
    name: str = "一片区",
    kind: str = "area",
    parent: GridCell | None = None,
    station: OrgUnit | None = None,
) -> GridCell:
    """A grid cell of ``team``: an area unless ``kind`` says otherwise."""
    cell = GridCell(
        code=code or f"{team.code}-A{next(_cells)}",
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        station_id=station.id if station else None,
    )
    db.session.add(cell)
    db.session.flush()
    return cell


def team_cell(team: OrgUnit) -> GridCell:
    """The team's first grid cell, or a new area of the team if it has none."""
    cell = db.session.scalar(
        select(GridCell).where(GridCell.team_id == team.id).order_by(GridCell.id)
    )
    return cell or make_cell(team)


def make_figure(unit: OrgUnit, year: int, count: int, category: str = "registered") -> None:
    """A population figure of ``unit`` for ``year``."""
    db.session.add(
        PopulationFigure(
            org_unit_id=unit.id,
            county_id=unit.county_id,
            year=year,
            category=category,
            count=count,
        )
    )
    db.session.flush()
