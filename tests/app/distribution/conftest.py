"""Distribution test fixtures: the settlement tests' city, its sheet built, approved and locked.

The settlement fixtures are reused: the clock on a day after the settled year, and the SQLite
teardown that sets the lock triggers aside to empty the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from fdoctor.auth.models import User
from fdoctor.distribution.services import save_settings
from fdoctor.extensions import db
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import Settlement
from tests.app.settlement.conftest import (  # noqa: F401 - fixtures used by every test here
    _after_the_settled_year,
    _empty_tables_despite_lock_triggers,
)
from tests.factories.settlement import YEAR, World, build_world
from tests.factories.users import make_user


@dataclass
class Locked:
    world: World
    sheet: Settlement
    centre: User  # centre admin of 甲一中心 (teams T1 and T2)
    other_centre: User  # centre admin of 甲二中心

    @property
    def leader(self) -> User:
        return self.world.users["T1L"]

    @property
    def nurse(self) -> User:  # T1's representative of the distribution group
        return self.world.users["T1N"]

    @property
    def trainee(self) -> User:  # T1's member on probation
        return self.world.users["T1P"]

    @property
    def outsider(self) -> User:  # a member of T2, the sibling team in the same institution
        return self.world.users["T2N"]


def lock_sheet(world: World, *, lock: bool = True) -> Settlement:
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    sheet, _ = build_settlement(YEAR, "settlement", city)
    steps: list[tuple[str, Any]] = [("review", city), ("approve", finance)]
    if lock:
        steps.append(("lock", finance))
    for action, user in steps:
        transition(sheet, action, user)
    return sheet


@pytest.fixture()
def locked(app: Flask) -> Locked:
    world = build_world()
    centre = make_user("c1-admin", "centre_admin", world["甲一"])
    other_centre = make_user("c2-admin", "centre_admin", world["甲二"])
    sheet = lock_sheet(world)
    save_settings(world["T1"], world.users["T1N"].id, "3", centre)
    db.session.commit()
    return Locked(world, sheet, centre, other_centre)
