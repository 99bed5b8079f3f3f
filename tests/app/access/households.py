"""Access expectations: the household/resident forms, signing, contract actions and imports.

Writes are for doctors and team leaders (own team) and centres (their teams); reading the
agreement PDF follows the contract detail (every health-data role in scope). Import pages are
not object routes: every allowed role gets them (``sees`` is ALL); population figures (centre
only) are checked in tests/app/imports.
"""

from __future__ import annotations

from typing import Any

from fdoctor.contracts.models import Contract
from fdoctor.households.models import Household, Resident
from tests.app.access.base import ALL, HEALTH, Expect, first_in_team

RECORDERS = frozenset({"doctor", "leader", "centre"})
EVERYWHERE = {"own": ALL, "sibling": ALL, "foreign": ALL}


def _kind(_which: str) -> dict[str, Any]:
    return {"kind": "households"}


def _template(_which: str) -> dict[str, Any]:
    return {"kind": "residents", "fmt": "xlsx"}


EXPECTATIONS: dict[str, Expect] = {
    "households.new": Expect(RECORDERS),
    "households.edit": Expect(RECORDERS, first_in_team(Household, "household_id")),
    "households.new_resident": Expect(RECORDERS, first_in_team(Household, "household_id")),
    "households.edit_resident": Expect(RECORDERS, first_in_team(Resident, "resident_id")),
    "contracts.new": Expect(RECORDERS, first_in_team(Household, "household_id")),
    "contracts.agreement": Expect(HEALTH, first_in_team(Contract, "contract_id")),
    "contracts.copies": Expect(RECORDERS, first_in_team(Contract, "contract_id"), method="POST"),
    "contracts.renew": Expect(RECORDERS, first_in_team(Contract, "contract_id")),
    "contracts.terminate": Expect(RECORDERS, first_in_team(Contract, "contract_id")),
    "imports.index": Expect(RECORDERS),
    "imports.upload": Expect(RECORDERS, _kind, sees=EVERYWHERE),
    "imports.template": Expect(RECORDERS, _template, sees=EVERYWHERE),
}
# A run's report belongs to the user who ran it (the demo has none): tested in tests/app/imports.
SPECIAL = {"imports.report"}
