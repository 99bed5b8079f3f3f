"""Access expectations: the tablet page, edit conflicts, the referral inbox and the JSON API.

The tablet page and uploads are for the recorders (doctor, leader, centre); conflicts and
referral receipts for the reviewers (leader, centre). POST routes are walked only with roles that
must be refused; what allowed roles may do is tested in tests/app/records and tests/app/api.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from fdoctor.extensions import db
from fdoctor.records.models import REFERRAL_TYPES, ServiceRecord
from tests.app.access.base import ALL, HEALTH, Expect, demo_teams

RECORDERS = frozenset({"doctor", "leader", "centre"})
REVIEWERS = frozenset({"leader", "centre"})


def _first(where: Any, arg: str, column: Any) -> Callable[[str], dict[str, Any]]:
    def build(which: str) -> dict[str, Any]:
        team = demo_teams()[which]
        value = db.session.scalar(
            select(column)
            .where(ServiceRecord.team_id == team.id, where)
            .order_by(ServiceRecord.id)
            .limit(1)
        )
        assert value is not None, f"demo has no matching service record in team {team.code}"
        return {arg: value}

    return build


# A referral to a hospital outside the system: nobody in the tree may confirm it, so a walk by
# an allowed role out of scope meets 404 and never changes the demo.
_external_referral = _first(
    ServiceRecord.type.in_(REFERRAL_TYPES) & ServiceRecord.other_institution_id.is_(None),
    "record_id",
    ServiceRecord.id,
)
_record_uuid = _first(ServiceRecord.id.is_not(None), "client_uuid", ServiceRecord.client_uuid)


def _no_conflict(_which: str) -> dict[str, Any]:
    # The demo holds no edit conflicts: refused roles meet 403 before any lookup, allowed roles
    # 404; accepting and rejecting are tested in tests/app/records/test_conflicts.py.
    return {"version_id": 0}


EXPECTATIONS: dict[str, Expect] = {
    "records.tablet": Expect(RECORDERS),
    "records.conflicts": Expect(REVIEWERS),
    "records.resolve": Expect(REVIEWERS, _no_conflict, method="POST"),
    "records.referrals": Expect(REVIEWERS),
    "records.receive": Expect(REVIEWERS, _external_referral, method="POST"),
    "api.me": Expect(ALL),
    "api.residents": Expect(HEALTH),
    "api.services": Expect(HEALTH),
    "api.services_batch": Expect(RECORDERS, method="POST"),
    "api.service": Expect(HEALTH, _record_uuid),
}
# The service worker script is public (no data; browsers re-fetch it to update): tested in
# tests/app/records/test_tablet_page.py.
# The offline pages' worker (worklist.pages_service_worker) is public for the same reason: tested in
# tests/app/worklist/test_pages_worker.py and in Chromium (tests/browser/test_offline_pages.py).
SPECIAL = {"records.service_worker", "worklist.pages_service_worker"}
