"""Small factory functions for tests on the empty database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fdoctor.auth.models import User
from fdoctor.auth.services import create_user
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell, OrgUnit
from fdoctor.org.services import add_unit

PASSWORD = "Kestrel-2041"


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


def make_user(username: str, role: str, unit: OrgUnit | None) -> User:
    return create_user(username, PASSWORD, role, unit.code if unit else None, display_name=username)


def make_grid(team: OrgUnit, name: str = "一片区") -> GridCell:
    area = GridCell(
        code=f"{team.code}-A{team.id}",
        name=name,
        kind="area",
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(area)
    db.session.flush()
    return area


_seq = [0]


def make_household(team: OrgUnit, address: str = "东街1号", members: int = 2) -> Household:
    cell = make_grid(team) if not team.id else GridCell.query.filter_by(team_id=team.id).first()
    if cell is None:
        cell = make_grid(team)
    _seq[0] += 1
    household = Household(
        code=f"H{team.code}-{_seq[0]}",
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
        grid_cell_id=cell.id,
        address=address,
    )
    db.session.add(household)
    db.session.flush()
    for i in range(members):
        _seq[0] += 1
        born = date(1950 + (_seq[0] % 60), 1 + i, 10)
        number = cid.make("410001", born, (_seq[0] * 2 + i) % 1000)
        db.session.add(
            Resident(
                household_id=household.id,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
                name=f"居民{_seq[0]}",
                citizen_id=number,
                id_tail=number[-6:],
                sex=cid.parse(number).sex,
                birth_date=born,
                is_head=i == 0,
            )
        )
    db.session.flush()
    return household
