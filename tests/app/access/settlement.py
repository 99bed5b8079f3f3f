"""Access expectations: settlement (结算). ``settlement.index`` is listed in core.py.

The demo city has no settlement sheet yet, so the routes of one sheet (detail, explainer,
transition, export) are walked role by role in tests/app/settlement/test_access_routes.py.
"""

from __future__ import annotations

from typing import Any

from tests.app.access.base import WHICH, Expect

CITY = frozenset({"city"})


def _year(_which: str) -> dict[str, Any]:
    return {"year": 2026}


EXPECTATIONS: dict[str, Expect] = {
    "settlement.config": Expect(frozenset({"city"})),
    "settlement.ratings": Expect(frozenset({"leader"})),
    "settlement.build": Expect(frozenset({"city"}), method="POST"),
    "settlement.config_year": Expect(CITY, method="POST"),
    "settlement.config_import": Expect(CITY, method="POST"),
    # The year's template is city-wide: no object of a team, so "other" years are not hidden.
    "settlement.config_template": Expect(CITY, _year, sees={w: CITY for w in WHICH}),
}
SPECIAL = {"settlement.detail", "settlement.line", "settlement.transition", "settlement.export",
           # A simulation needs a settlement draft, which the demo city does not hold (its 2025
           # settlement is locked): tests/app/settlement/test_simulation.py walks the roles.
           "settlement.simulate", "settlement.compare_simulations"}  # fmt: skip
