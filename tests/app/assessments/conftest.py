"""A small world for the assessment tests: the factory tree, one user per role, a few records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.org.models import OrgUnit, PopulationFigure
from fdoctor.records.models import ServiceRecord
from tests.conftest import login
from tests.factories import PASSWORD, Tree, make_household, make_tree
from tests.metrics_factories import covering_contract

# One cheap hash for every test user (the default scrypt costs half a second per user).
_FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")

# The L1 period the tests assess and a day inside its window (opened 1 April, due 5 April).
PERIOD = "2026-03"
TODAY = date(2026, 4, 2)


@dataclass
class World:
    tree: Tree
    users: dict[str, User]
    household: Household

    def user(self, name: str) -> User:
        return self.users[name]


def add_contract(household: Household, start: date, end: date) -> Contract:
    contract = Contract(
        code=f"HT-{uuid.uuid4().hex[:10]}",
        household_id=household.id,
        signed_on=start,
        start_date=start,
        end_date=end,
        status="active",
        county_id=household.county_id,
        institution_id=household.institution_id,
        team_id=household.team_id,
    )
    db.session.add(contract)
    db.session.flush()
    for resident in household.residents:
        db.session.add(
            ContractMember(
                contract_id=contract.id,
                resident_id=resident.id,
                county_id=household.county_id,
                institution_id=household.institution_id,
                team_id=household.team_id,
            )
        )
    db.session.flush()
    return contract


def add_service(
    team: OrgUnit,
    doctor: User,
    day: date,
    type_: str = "consultation",
    resident_id: int | None = None,
) -> ServiceRecord:
    # Entered under the resident's contract covering the day, as the app does.
    contract = None if resident_id is None else covering_contract(resident_id, day)
    record = ServiceRecord(
        client_uuid=str(uuid.uuid4()),
        resident_id=resident_id,
        doctor_id=doctor.id,
        service_date=day,
        category="basic_medical" if type_ in ("consultation", "home_visit") else "public_health",
        type=type_,
        entered_at=datetime(day.year, day.month, day.day, 17, 0),
        entered_by_id=doctor.id,
        contract_id=contract.id if contract is not None else None,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(record)
    db.session.flush()
    return record


def make_user(username: str, role: str, unit: OrgUnit | None) -> User:
    """A user like ``tests.factories.make_user`` (password ``PASSWORD``), hashed cheaply."""
    user = User(
        username=username,
        display_name=username,
        role=role,
        org_unit_id=unit.id if unit is not None else None,
        password_hash=_FAST_HASH,
    )
    db.session.add(user)
    db.session.flush()
    return user


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
    add_contract(household, date(2025, 6, 1), date(2027, 5, 31))
    for unit in (tree.team, tree.team2, tree.other_team):
        db.session.add(
            PopulationFigure(
                org_unit_id=unit.id,
                county_id=unit.county_id,
                year=2026,
                category="registered",
                count=20,
            )
        )
    resident = household.residents[0]
    for day in (date(2026, 3, 3), date(2026, 3, 10), date(2026, 3, 17)):
        add_service(tree.team, users["doctor"], day, "consultation", resident.id)
    db.session.flush()
    return World(tree=tree, users=users, household=household)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        built = build_world()
        db.session.commit()
        yield built


def score_all_manual(assessment: Any, user: User, points: dict[str, Any] | None = None) -> None:
    """Give every hand-scored item its maximum (or ``points[code]`` with a reason)."""
    from fdoctor.assessments.marking import score_manual

    points = points or {}
    entries = {}
    for item in assessment.items:
        if item.source != "manual":
            continue
        given = points.get(item.code, item.max_points)
        entries[item.code] = (str(given), None if given == item.max_points else "测试理由：未达标")
    score_manual(assessment, user, entries)


class _FreshUserClient(FlaskClient):
    """A test client that loads its own user on every request.

    The ``app`` fixture keeps one app context open for the whole test, so Flask-Login's cached
    ``g._login_user`` and Flask-WTF's cached ``g.csrf_token`` would otherwise leak from one client
    to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


def client_for(app: Flask, user: User) -> FlaskClient:
    client = _FreshUserClient(app, app.response_class, use_cookies=True)
    response = login(client, user.username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def days(n: int) -> timedelta:
    return timedelta(days=n)


# The triggers of fdoctor.assessments.triggers refuse deleting published assessments; on SQLite
# (no TRUNCATE, no way to switch triggers off) the shared clean-up would fail, so the assessment
# rows are removed here first, with the assessment triggers dropped and reinstalled around the
# delete.
_ASSESSMENT_TABLES = (
    "rectification",
    "assessment_appeal_item",
    "assessment_appeal",
    "assessment_item",
    "assessment",
)


def remove_locked_assessments() -> None:
    """Delete every assessment row even when published (SQLite; see above)."""
    db.session.remove()
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's TRUNCATE does not fire row triggers
    from sqlalchemy import text

    from fdoctor.assessments.triggers import ASSESSMENT_GUARD, ITEM_GUARD, RECORD_GUARD
    from fdoctor.core.triggers import install_triggers, uninstall_triggers

    guards = (ASSESSMENT_GUARD, ITEM_GUARD, RECORD_GUARD)
    with db.engine.begin() as conn:
        uninstall_triggers(conn, guards)
        for table in _ASSESSMENT_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        install_triggers(conn, guards)


@pytest.fixture(autouse=True)
def _remove_locked_assessments(app: Flask) -> Iterator[None]:
    yield
    remove_locked_assessments()
