"""Access expectations: verification sampling and calls, review queue, complaints, flags, work list.

``surveys.index`` and ``surveys.complaints`` are listed in core.py. The flags and work-list routes
are listed once their blueprints are registered (``fdoctor.BLUEPRINT_MODULES``). The two POST
routes whose objects the demo city may not have in every team (complaints, flags) are tested
role by role in tests/app/surveys/test_complaints.py and tests/app/flags/test_flag_pages.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import fdoctor
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import VerificationSample, VerificationSampleItem
from tests.app.access.base import Expect, demo_teams, first_in_team

SURVEYORS = frozenset({"leader", "centre", "county"})
VERIFY_VIEWERS = frozenset({"centre", "county", "city"})
VERIFIERS = frozenset({"centre", "county"})
WORKERS = frozenset({"doctor", "leader"})


def _sample_of_team_institution(which: str) -> dict[str, Any]:
    """The first sample drawn by the institution of the own / sibling / foreign team."""
    team = demo_teams()[which]
    sample_id = db.session.scalar(
        select(VerificationSample.id)
        .where(VerificationSample.org_unit_id == team.institution_id)
        .order_by(VerificationSample.id)
        .limit(1)
    )
    assert sample_id is not None, f"demo has no verification sample for {team.code}"
    return {"sample_id": sample_id}


EXPECTATIONS: dict[str, Expect] = {
    "surveys.new_survey": Expect(SURVEYORS),
    "surveys.samples": Expect(VERIFY_VIEWERS),
    "surveys.draw": Expect(VERIFIERS, method="POST"),
    "surveys.sample": Expect(VERIFY_VIEWERS, _sample_of_team_institution),
    "surveys.call": Expect(VERIFIERS, first_in_team(VerificationSampleItem, "item_id")),
    "surveys.review": Expect(VERIFIERS),
    "surveys.review_decide": Expect(
        VERIFIERS, first_in_team(ServiceRecord, "record_id"), method="POST"
    ),
    "surveys.report": Expect(VERIFY_VIEWERS),
    "surveys.complaint_new": Expect(VERIFIERS),
}
SPECIAL = {"surveys.complaint_resolve"}

if "fdoctor.flags.routes" in fdoctor.BLUEPRINT_MODULES:
    EXPECTATIONS["flags.index"] = Expect(VERIFY_VIEWERS)
    EXPECTATIONS["flags.detect"] = Expect(VERIFIERS, method="POST")
    SPECIAL.add("flags.resolve")

if "fdoctor.worklist.routes" in fdoctor.BLUEPRINT_MODULES:
    EXPECTATIONS["worklist.index"] = Expect(WORKERS)
    EXPECTATIONS["worklist.data"] = Expect(WORKERS)
