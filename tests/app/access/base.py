"""Shared pieces of the role-by-route walk; each area lists its routes in its own module here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

ROLES = ["doctor", "leader", "centre", "county", "city", "finance", "admin"]
ALL = frozenset(ROLES)
HEALTH = frozenset({"doctor", "leader", "centre", "county", "city"})

# Which demo login may see an object of the doctor's own team, a sibling team in the same
# institution, or a team of another county.
SEES = {
    "own": ALL,
    "sibling": frozenset({"centre", "county", "city", "finance", "admin"}),
    "foreign": frozenset({"city", "finance", "admin"}),
}
WHICH = ("own", "sibling", "foreign")


@dataclass(frozen=True)
class Expect:
    """Roles the guard lets through; ``args(which)`` builds URL arguments for an object route.

    ``sees`` overrides SEES for objects whose visibility differs (e.g. county-level objects).
    POST routes are walked only with the roles that must be refused (403/404), so the walk never
    changes the demo database; their allowed behaviour is tested in the area's own tests.
    """

    roles: frozenset[str]
    args: Callable[[str], dict[str, Any]] | None = None
    method: str = "GET"
    sees: dict[str, frozenset[str]] = field(default_factory=lambda: SEES)


def demo_teams() -> dict[str, OrgUnit]:
    """The doctor's own team, a sibling team (same institution) and a team of another county."""
    from fdoctor.auth.models import User

    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None and doctor.org_unit is not None
    team = doctor.org_unit
    sibling = db.session.scalar(
        select(OrgUnit)
        .where(
            OrgUnit.kind == "team",
            OrgUnit.institution_id == team.institution_id,
            OrgUnit.id != team.id,
        )
        .order_by(OrgUnit.id)
    )
    foreign = db.session.scalar(
        select(OrgUnit)
        .where(OrgUnit.kind == "team", OrgUnit.county_id != team.county_id)
        .order_by(OrgUnit.id)
    )
    assert sibling is not None and foreign is not None
    return {"own": team, "sibling": sibling, "foreign": foreign}


def first_in_team(model: Any, arg: str) -> Callable[[str], dict[str, Any]]:
    """URL args: the first row of ``model`` in the own / sibling / foreign team."""

    def build(which: str) -> dict[str, Any]:
        team = demo_teams()[which]
        row_id = db.session.scalar(
            select(model.id).where(model.team_id == team.id).order_by(model.id).limit(1)
        )
        assert row_id is not None, f"demo has no {model.__name__} in team {team.code}"
        return {arg: row_id}

    return build
