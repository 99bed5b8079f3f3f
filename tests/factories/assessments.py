"""Assessments: score rows as the workflow leaves them, and the assessments world.

The world is the factory tree with one user per role and a signed household with three of the
doctor's services in March; ``PERIOD`` is the L1 period the tests assess and ``TODAY`` a day inside
its window (opened 1 April, due 5 April).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from fdoctor.assessments.marking import score_manual
from fdoctor.assessments.models import Assessment
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.org.models import OrgUnit
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.org import Tree, make_figure, make_tree
from tests.factories.records import make_record
from tests.factories.users import make_user

# When the factories' scores were opened and published: late February after the settled year.
SCORED_AT = datetime(2027, 2, 25, 9, 0)


def score_columns(
    unit_id: int,
    kind: str,
    county_id: int | None,
    institution_id: int | None,
    level: str,
    period: str,
    total: Decimal | None,
    *,
    status: str = "published",
    at: datetime = SCORED_AT,
) -> dict[str, Any]:
    """The columns of a unit's assessment as the workflow leaves it, from the unit's place
    (``kind`` and the ids of its county and institution), opened and published ``at``."""
    return {
        "level": level, "period": period, "unit_id": unit_id,
        "county_id": unit_id if kind == "county" else county_id,
        "institution_id": unit_id if kind == "institution" else institution_id,
        "team_id": unit_id if kind == "team" else None, "index_code": f"city-{period[:4]}",
        "status": status, "revision": 1, "is_current": True, "total": total, "opened_at": at,
        "due_on": at.date(), "published_at": at if status in ("published", "acknowledged") else None,
    }  # fmt: skip


def make_assessment(
    unit: OrgUnit,
    level: str,
    period: str,
    total: str | None,
    *,
    status: str = "published",
    revision: int = 1,
    is_current: bool = True,
) -> Assessment:
    """An assessment row as the assessment workflow would leave it."""
    assessment = Assessment(
        **score_columns(
            unit.id,
            unit.kind,
            unit.county_id,
            unit.institution_id,
            level,
            period,
            Decimal(total) if total is not None else None,
            status=status,
        )  # fmt: skip
    )
    assessment.revision, assessment.is_current = revision, is_current
    db.session.add(assessment)
    db.session.flush()
    return assessment


def score_all_manual(assessment: Any, user: User, points: dict[str, Any] | None = None) -> None:
    """Give every hand-scored item its maximum (or ``points[code]`` with a reason)."""
    points = points or {}
    entries = {}
    for item in assessment.items:
        if item.source != "manual":
            continue
        given = points.get(item.code, item.max_points)
        entries[item.code] = (str(given), None if given == item.max_points else "测试理由：未达标")
    score_manual(assessment, user, entries)


def supersede(old: Assessment, unit: OrgUnit, total: str) -> Assessment:
    """Replace a published score by a corrected revision, in the order the workflow (and the
    database's locks) use: the new row first, not yet current; then the old one superseded."""
    new = make_assessment(
        unit, old.level, old.period, total, status="submitted", revision=old.revision + 1,
        is_current=False,
    )  # fmt: skip
    new.supersedes_id = old.id
    db.session.flush()
    old.is_current, old.status = False, "superseded"
    db.session.flush()
    new.is_current, new.status, new.published_at = True, "published", SCORED_AT
    db.session.flush()
    return new


# --- the assessments world --------------------------------------------------------------------

PERIOD = "2026-03"
TODAY = date(2026, 4, 2)


@dataclass
class World:
    tree: Tree
    users: dict[str, User]
    household: Household

    def user(self, name: str) -> User:
        return self.users[name]


def build_world() -> World:
    tree = make_tree()
    other_inst = db.session.get(OrgUnit, tree.other_team.institution_id)
    users = {
        "doctor": make_user("doc1", "doctor", tree.team),
        "leader": make_user("leader1", "team_leader", tree.team),
        "leader2": make_user("leader2", "team_leader", tree.team2),
        "other_leader": make_user("leader9", "team_leader", tree.other_team),
        "centre": make_user("centre1", "centre_admin", tree.institution),
        "other_centre": make_user("centre9", "centre_admin", other_inst),
        "county": make_user("county1", "county_auditor", tree.county),
        "other_county": make_user("county9", "county_auditor", tree.other_county),
        "city": make_user("city1", "city_admin", tree.city),
        "finance": make_user("finance1", "finance", tree.city),
        "admin": make_user("root1", "admin", None),
    }
    household = make_household(tree.team, members=2)
    make_contract(household, None, date(2025, 6, 1), date(2027, 5, 31))
    for unit in (tree.team, tree.team2, tree.other_team):
        make_figure(unit, 2026, 20)
    resident = household.residents[0]
    for day in (date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17)):
        make_record("consultation", day, resident, team=tree.team, doctor=users["doctor"],
                    entered=datetime(day.year, day.month, day.day, 17, 0))  # fmt: skip
    db.session.flush()
    return World(tree=tree, users=users, household=household)


@pytest.fixture()
def world(app: object) -> Iterator[World]:
    """The world above, committed, with the clock frozen at TODAY."""
    with clock.frozen(TODAY):
        built = build_world()
        db.session.commit()
        yield built
