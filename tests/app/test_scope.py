"""Scope: a user sees their unit and below, never a sibling; enforced in the query helper."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.core.scope import in_scope, scope_clause, scoped
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from tests.factories.households import make_household
from tests.factories.org import make_tree
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> dict[str, object]:
    tree = make_tree()
    households = {
        "team": make_household(tree.team, members=2),
        "team2": make_household(tree.team2, members=2),
        "other": make_household(tree.other_team, members=2),
    }
    users = {
        "doctor": make_user("doc", "doctor", tree.team),
        "centre": make_user("centre", "centre_admin", tree.institution),
        "county": make_user("county", "county_auditor", tree.county),
        "city": make_user("city", "city_admin", tree.city),
        "admin": make_user("root", "admin", None),
    }
    db.session.commit()
    return {"tree": tree, "households": households, "users": users}


def _visible(user: object) -> set[int]:
    return set(db.session.scalars(scoped(Household, user).with_only_columns(Household.id)))


def test_doctor_sees_only_own_team(world: dict) -> None:
    h, u = world["households"], world["users"]
    assert _visible(u["doctor"]) == {h["team"].id}


def test_centre_sees_its_teams_not_other_county(world: dict) -> None:
    h, u = world["households"], world["users"]
    assert _visible(u["centre"]) == {h["team"].id, h["team2"].id}


def test_county_sees_its_county(world: dict) -> None:
    h, u = world["households"], world["users"]
    assert _visible(u["county"]) == {h["team"].id, h["team2"].id}


def test_city_and_admin_see_everything(world: dict) -> None:
    h, u = world["households"], world["users"]
    everything = {x.id for x in h.values()}
    assert _visible(u["city"]) == everything
    assert _visible(u["admin"]) == everything


def test_org_units_are_scoped_by_path(world: dict) -> None:
    tree, u = world["tree"], world["users"]
    visible = set(db.session.scalars(select(OrgUnit.id).where(scope_clause(OrgUnit, u["centre"]))))
    assert tree.team.id in visible and tree.station.id in visible
    assert tree.county.id not in visible and tree.other_team.id not in visible


def test_in_scope_agrees_with_the_query(world: dict) -> None:
    h, u = world["households"], world["users"]
    assert in_scope(h["team"], u["doctor"])
    assert not in_scope(h["team2"], u["doctor"])
    assert not in_scope(h["other"], u["county"])


def test_scope_filter_needs_no_join(world: dict) -> None:
    sql = str(scoped(Resident, world["users"]["county"]).compile())
    assert "JOIN" not in sql.upper()
    assert "county_id" in sql


def test_anonymous_sees_nothing(world: dict) -> None:
    from flask_login import AnonymousUserMixin

    count = db.session.scalar(
        select(func.count(Household.id)).where(scope_clause(Household, AnonymousUserMixin()))
    )
    assert count == 0


def test_county_rows_are_seen_by_the_whole_county_and_above_only(world: dict) -> None:
    """A county's workload report: its county, the institutions and teams below it and the city
    see it; the other county does not."""
    from datetime import datetime

    from fdoctor.assessments.models import WorkloadReport
    from fdoctor.core.scope import county_clause

    tree, u = world["tree"], world["users"]
    mine = WorkloadReport(
        county_id=tree.county.id, period="2026-03", created_at=datetime(2026, 4, 1)
    )
    theirs = WorkloadReport(
        county_id=tree.other_county.id, period="2026-03", created_at=datetime(2026, 4, 1)
    )
    db.session.add_all([mine, theirs])
    u["other"] = make_user("other", "county_auditor", tree.other_county)
    db.session.flush()

    def seen(user: object) -> set[int]:
        clause = county_clause(WorkloadReport, user)
        return set(db.session.scalars(select(WorkloadReport.id).where(clause)))

    assert seen(u["county"]) == seen(u["centre"]) == seen(u["doctor"]) == {mine.id}
    assert seen(u["other"]) == {theirs.id}
    assert seen(u["city"]) == seen(u["admin"]) == {mine.id, theirs.id}


def test_the_counties_a_user_sees_whole_follow_the_county_rule(world: dict) -> None:
    """What a county auditor generates a workload report for: their county; the city, all."""
    from fdoctor.core.scope import visible_county_ids

    tree, u = world["tree"], world["users"]
    assert visible_county_ids(u["county"]) == [tree.county.id]
    assert visible_county_ids(u["centre"]) == [tree.county.id]
    assert visible_county_ids(u["doctor"]) == [tree.county.id]
    assert visible_county_ids(u["city"]) is None
    assert visible_county_ids(u["admin"]) is None
