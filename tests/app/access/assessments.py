"""Access expectations: the assessment area (考核), its dashboards and the public board.

Routes about one assessment, appeal, rectification item or workload report need such rows, which
the demo city does not have; they are listed in SPECIAL and walked with every role, in and out of
scope, on a small world of their own in ``tests/app/assessments/test_access_routes.py``.
"""

from __future__ import annotations

from typing import Any

from tests.app.access.base import ALL, Expect

ASSESSORS = frozenset({"leader", "centre", "county", "city"})
COUNTY_CITY = frozenset({"county", "city"})


def _year(_which: str) -> dict[str, Any]:
    return {"year": 2025}


def _everyone_sees(roles: frozenset[str]) -> dict[str, frozenset[str]]:
    return {"own": roles, "sibling": roles, "foreign": roles}


EXPECTATIONS: dict[str, Expect] = {
    "assessments.index_file": Expect(ASSESSORS),
    "assessments.open_view": Expect(ASSESSORS, method="POST"),
    "assessments.rectifications": Expect(ASSESSORS),
    "assessments.notifications": Expect(ASSESSORS | {"doctor"}),
    "assessments.dashboard": Expect(ASSESSORS),
    "assessments.dashboard_json": Expect(ASSESSORS),
    "assessments.workload": Expect(COUNTY_CITY),
    "assessments.workload_generate": Expect(COUNTY_CITY, method="POST"),
    "assessments.l4": Expect(COUNTY_CITY, _year, sees=_everyone_sees(COUNTY_CITY)),
    "assessments.l4_draw": Expect(
        frozenset({"city"}), _year, method="POST", sees=_everyone_sees(frozenset({"city"}))
    ),
    "public.index": Expect(ALL),
}
SPECIAL = {
    "assessments.detail",
    "assessments.records",
    "assessments.sheet_pdf",
    "assessments.sheet_xlsx",
    "assessments.score",
    "assessments.refresh",
    "assessments.submit",
    "assessments.reopen",
    "assessments.publish",
    "assessments.acknowledge",
    "assessments.appeal",
    "assessments.answer",
    "assessments.correct",
    "assessments.rectify",
    "assessments.verify",
    "assessments.workload_detail",
    "assessments.workload_xlsx",
}
