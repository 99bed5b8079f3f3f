"""Every route with every role: allowed (200), forbidden by role (403), out of scope (404).

The expectations below are written out by hand, not read from the views, so a view that loses
its guard fails here. A new route without an entry fails ``test_every_route_has_expectations``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.contracts.models import Contract
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import OrgUnit
from fdoctor.services.models import ServiceRecord
from tests.conftest import login

pytestmark = pytest.mark.db

ROLES = ["doctor", "leader", "centre", "county", "city", "finance", "admin"]
HEALTH = {"doctor", "leader", "centre", "county", "city"}
ALL = set(ROLES)

# Which demo login sees which kind of object (own team / sibling team / other county).
SEES = {
    "own": {"doctor", "leader", "centre", "county", "city", "finance", "admin"},
    "sibling": {"centre", "county", "city", "finance", "admin"},
    "foreign": {"city", "finance", "admin"},
}


@dataclass(frozen=True)
class Expect:
    roles: set[str]  # roles allowed by the role guard
    args: Callable[[dict[str, Any], str], dict[str, Any]] | None = None  # URL args per object


def _obj(kind: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    def build(objects: dict[str, Any], which: str) -> dict[str, Any]:
        return objects[kind][which]

    return build


EXPECTATIONS: dict[str, Expect] = {
    "home.index": Expect(ALL),
    "home.healthz": Expect(ALL),
    "org.index": Expect(ALL),
    "org.detail": Expect(ALL, _obj("unit")),
    "households.index": Expect(HEALTH),
    "households.detail": Expect(HEALTH, _obj("household")),
    "households.resident": Expect(HEALTH, _obj("resident")),
    "contracts.index": Expect(HEALTH),
    "contracts.detail": Expect(HEALTH, _obj("contract")),
    "services.index": Expect(HEALTH),
    "services.detail": Expect(HEALTH, _obj("service")),
    "surveys.index": Expect({"leader", "centre", "county", "city"}),
    "surveys.complaints": Expect({"leader", "centre", "county", "city"}),
    "assessments.index": Expect({"leader", "centre", "county", "city"}),
    "settlement.index": Expect({"centre", "county", "city", "finance"}),
    "admin.users": Expect({"centre", "admin"}),
}
# Routes outside the walk, each tested on its own elsewhere.
SPECIAL = {"static", "auth.login", "auth.logout"}


def _demo_objects() -> dict[str, dict[str, dict[str, Any]]]:
    """One household/resident/contract/service per scope relation to the ``doctor`` login."""
    from fdoctor.auth.models import User

    doctor = db.session.scalar(select(User).where(User.username == "doctor"))
    assert doctor is not None and doctor.org_unit is not None
    team = doctor.org_unit
    sibling = db.session.scalar(
        select(OrgUnit).where(
            OrgUnit.kind == "team",
            OrgUnit.institution_id == team.institution_id,
            OrgUnit.id != team.id,
        )
    )
    foreign = db.session.scalar(
        select(OrgUnit).where(OrgUnit.kind == "team", OrgUnit.county_id != team.county_id)
    )
    assert sibling is not None and foreign is not None
    teams = {"own": team, "sibling": sibling, "foreign": foreign}
    objects: dict[str, dict[str, dict[str, Any]]] = {
        k: {} for k in ("unit", "household", "resident", "contract", "service")
    }
    for which, t in teams.items():
        objects["unit"][which] = {"unit_id": t.id}
        for key, model, arg in (
            ("household", Household, "household_id"),
            ("resident", Resident, "resident_id"),
            ("contract", Contract, "contract_id"),
            ("service", ServiceRecord, "record_id"),
        ):
            row_id = db.session.scalar(
                select(model.id).where(model.team_id == t.id).order_by(model.id).limit(1)
            )
            assert row_id is not None, f"demo has no {key} in team {t.code}"
            objects[key][which] = {arg: row_id}
    return objects


def test_every_route_has_expectations(demo_app: Flask) -> None:
    endpoints = {rule.endpoint for rule in demo_app.url_map.iter_rules()}
    missing = endpoints - set(EXPECTATIONS) - SPECIAL
    assert not missing, f"routes without access expectations: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_role_walks_every_route(demo_app: Flask, role: str) -> None:
    with demo_app.app_context():
        objects = _demo_objects()
    client = demo_app.test_client()
    assert login(client, role).status_code == 302
    failures = []
    with demo_app.test_request_context():
        from flask import url_for

        for endpoint, expect in EXPECTATIONS.items():
            variants = ["own", "sibling", "foreign"] if expect.args else [None]
            for which in variants:
                kwargs = expect.args(objects, which) if expect.args and which else {}
                url = url_for(endpoint, **kwargs)
                if role not in expect.roles:
                    wanted = 403
                elif which is not None and role not in SEES[which]:
                    wanted = 404
                else:
                    wanted = 200
                got = client.get(url).status_code
                if got != wanted:
                    failures.append(f"{role} {url} ({which}): expected {wanted}, got {got}")
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login_everywhere_but_health(demo_app: Flask) -> None:
    with demo_app.app_context():
        objects = _demo_objects()
    client = demo_app.test_client()
    with demo_app.test_request_context():
        from flask import url_for

        for endpoint, expect in EXPECTATIONS.items():
            kwargs = expect.args(objects, "own") if expect.args else {}
            response = client.get(url_for(endpoint, **kwargs))
            if endpoint == "home.healthz":
                assert response.status_code == 200
            else:
                assert response.status_code == 302, endpoint
                assert "/login" in response.headers["Location"]
