"""Access expectations: settlement (结算). ``settlement.index`` is listed in core.py.

The demo city has no settlement sheet yet, so the routes of one sheet (detail, explainer,
transition, export) are walked role by role in tests/app/settlement/test_access_routes.py.
"""

from __future__ import annotations

from tests.app.access.base import Expect

EXPECTATIONS: dict[str, Expect] = {
    "settlement.config": Expect(frozenset({"city"})),
    "settlement.ratings": Expect(frozenset({"leader"})),
    "settlement.build": Expect(frozenset({"city"}), method="POST"),
}
SPECIAL = {"settlement.detail", "settlement.line", "settlement.transition", "settlement.export"}
