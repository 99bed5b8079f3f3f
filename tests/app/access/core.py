"""Access expectations: home, org, households, contracts, services, surveys, admin."""

from __future__ import annotations

from typing import Any

from fdoctor.contracts.models import Contract
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import ServiceRecord
from tests.app.access.base import ALL, HEALTH, Expect, demo_teams, first_in_team


def _unit(which: str) -> dict[str, Any]:
    return {"unit_id": demo_teams()[which].id}


def _team_user(which: str) -> dict[str, Any]:
    from sqlalchemy import select

    from fdoctor.auth.models import User
    from fdoctor.extensions import db

    team = demo_teams()[which]
    user_id = db.session.scalar(
        select(User.id).where(User.org_unit_id == team.id).order_by(User.id).limit(1)
    )
    assert user_id is not None, f"demo has no user in team {team.code}"
    return {"user_id": user_id}


ADMIN = frozenset({"admin"})


SURVEY_ROLES = frozenset({"leader", "centre", "county", "city"})

EXPECTATIONS: dict[str, Expect] = {
    "home.index": Expect(ALL),
    "home.funds": Expect(frozenset({"city", "finance"})),
    "home.healthz": Expect(ALL),
    "home.favicon": Expect(ALL),
    "api.openapi": Expect(ALL),
    "org.index": Expect(ALL),
    "org.detail": Expect(ALL, _unit),
    "households.index": Expect(HEALTH),
    "households.detail": Expect(HEALTH, first_in_team(Household, "household_id")),
    "households.resident": Expect(HEALTH, first_in_team(Resident, "resident_id")),
    "contracts.index": Expect(HEALTH),
    "contracts.detail": Expect(HEALTH, first_in_team(Contract, "contract_id")),
    "records.index": Expect(HEALTH),
    "records.detail": Expect(HEALTH, first_in_team(ServiceRecord, "record_id")),
    "surveys.index": Expect(SURVEY_ROLES),
    "surveys.complaints": Expect(SURVEY_ROLES),
    "assessments.index": Expect(SURVEY_ROLES),
    "settlement.index": Expect(frozenset({"centre", "county", "city", "finance"})),
    "admin.users": Expect(frozenset({"centre", "admin"})),
    "admin.new_user": Expect(ADMIN),
    "admin.edit_user": Expect(ADMIN, _team_user),
    "admin.reset_password": Expect(ADMIN, _team_user),
    "admin.unlock_user": Expect(ADMIN, _team_user, method="POST"),
    "admin.set_active": Expect(ADMIN, _team_user, method="POST"),
    "auth.change_password": Expect(ALL),
}
# Routes tested on their own (login form, logout) rather than walked.
SPECIAL = {"static", "auth.login", "auth.logout"}
