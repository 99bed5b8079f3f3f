"""Access expectations: the second distribution (二次分配) and members' pay slips.

The demo city has no locked settlement sheet, so the routes of one sheet's distribution and of one
slip are walked role by role in tests/app/distribution/ (404 for another member's slip, another
team's distribution).
"""

from __future__ import annotations

from typing import Any

from tests.app.access.base import Expect, demo_teams


def _team(which: str) -> dict[str, Any]:
    return {"team_id": demo_teams()[which].id}


EXPECTATIONS: dict[str, Expect] = {
    "distribution.index": Expect(frozenset({"doctor", "leader", "centre"})),
    "distribution.slips": Expect(frozenset({"doctor", "leader"})),
    "distribution.settings": Expect(frozenset({"centre"}), args=_team, method="POST"),
}
SPECIAL = {
    "distribution.team",
    "distribution.propose",
    "distribution.confirm",
    "distribution.object_to",
    "distribution.answer",
    "distribution.approve",
    "distribution.slip",
    "distribution.slip_pdf",
}
