"""Access expectations: the team split's sources (attendance, point table, deductions, the team
fund, the leader rule). Their writes are tested in tests/app/settlement/test_team_split.py."""

from __future__ import annotations

from tests.app.access.base import Expect

EXPECTATIONS: dict[str, Expect] = {
    "teamsplit.attendance": Expect(frozenset({"centre"})),
    "teamsplit.attendance_import": Expect(frozenset({"centre"}), method="POST"),
    "teamsplit.points": Expect(frozenset({"county", "city", "centre", "leader"})),
    "teamsplit.deductions": Expect(frozenset({"leader"})),
    "teamsplit.fund": Expect(frozenset({"doctor", "leader"})),
    "teamsplit.leaders": Expect(frozenset({"centre"})),
}
