"""Every route about one assessment, appeal, rectification or report, walked with every role.

Allowed and in scope: 200 (pages) or a redirect (actions); a role without access: 403; an object
outside the user's subtree: 404 (no hint that it exists).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.assessments import appeals, steps
from fdoctor.assessments.models import Assessment, Rectification, WorkloadReport
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from fdoctor.scheduler.jobs import run_job
from tests.app.access.assessments import SPECIAL
from tests.conftest import AuthActions, csrf_token
from tests.factories.assessments import TODAY, World, score_all_manual

pytestmark = pytest.mark.db

ASSESSORS = {"leader", "centre", "county", "city"}
# Who sees an object of the first team (东街一队); leader2 leads its sibling team.
SEES_TEAM = {"doctor", "leader", "centre", "county", "city", "finance", "admin"}
ROLES = [
    "doctor",
    "leader",
    "leader2",
    "other_leader",
    "centre",
    "other_centre",
    "county",
    "other_county",
    "city",
    "finance",
    "admin",
]
ROLE_GROUP = {
    "leader2": "leader",
    "other_leader": "leader",
    "other_centre": "centre",
    "other_county": "county",
}


def _build(world: World) -> dict[str, int]:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    centre = world.user("centre")
    score_all_manual(a, centre, {"A4": Decimal(0)})
    steps.submit(a, centre)
    steps.publish(a, centre, today=TODAY)
    record = appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    appeals.answer_appeal(record, centre, {"B2": ("rejected", None, "维持")})
    steps.acknowledge(a, world.user("leader"), today=TODAY)
    db.session.commit()
    rect = db.session.scalar(
        select(Rectification).where(Rectification.assessment_id == a.id, Rectification.code == "A4")
    )
    run_job("workload_report", period="2026-03")
    report = db.session.scalar(
        select(WorkloadReport).where(WorkloadReport.county_id == world.tree.county.id)
    )
    return {"assessment": a.id, "appeal": record.id, "rect": rect.id, "report": report.id}


def _routes(ids: dict[str, int]) -> dict[str, tuple[str, str, set[str]]]:
    """endpoint → (method, url, roles allowed by the guard)."""
    a, ap, r, rep = ids["assessment"], ids["appeal"], ids["rect"], ids["report"]
    return {
        "assessments.detail": ("GET", f"/assessments/{a}", ASSESSORS),
        "assessments.records": ("GET", f"/assessments/{a}/items/A1/records", ASSESSORS),
        "assessments.sheet_pdf": ("GET", f"/assessments/{a}/sheet.pdf", ASSESSORS),
        "assessments.sheet_xlsx": ("GET", f"/assessments/{a}/sheet.xlsx", ASSESSORS),
        "assessments.score": ("POST", f"/assessments/{a}/score", ASSESSORS),
        "assessments.refresh": ("POST", f"/assessments/{a}/refresh", ASSESSORS),
        "assessments.submit": ("POST", f"/assessments/{a}/submit", ASSESSORS),
        "assessments.reopen": ("POST", f"/assessments/{a}/reopen", ASSESSORS),
        "assessments.publish": ("POST", f"/assessments/{a}/publish", ASSESSORS),
        "assessments.acknowledge": ("POST", f"/assessments/{a}/acknowledge", ASSESSORS),
        "assessments.appeal": ("POST", f"/assessments/{a}/appeal", ASSESSORS),
        "assessments.answer": ("POST", f"/assessments/appeals/{ap}/answer", ASSESSORS),
        "assessments.correct": ("POST", f"/assessments/{a}/correct", ASSESSORS),
        "assessments.rectify": ("POST", f"/assessments/rectifications/{r}/rectify", ASSESSORS),
        "assessments.verify": ("POST", f"/assessments/rectifications/{r}/verify", ASSESSORS),
        "assessments.workload_detail": ("GET", f"/assessments/workload/{rep}", {"county", "city"}),
        "assessments.workload_xlsx": (
            "GET",
            f"/assessments/workload/{rep}.xlsx",
            {"county", "city"},
        ),
    }


def test_the_walk_covers_every_special_route(world: World) -> None:
    assert set(_routes({"assessment": 1, "appeal": 1, "rect": 1, "report": 1})) == SPECIAL


@pytest.mark.parametrize("who", ROLES)
def test_each_role_gets_200_403_or_404_on_every_object_route(
    app: Flask, world: World, who: str, auth: AuthActions
) -> None:
    ids = _build(world)
    client = auth.client_for(world.user(who))
    token = csrf_token(client, "/public/")
    role = ROLE_GROUP.get(who, who)
    failures = []
    for endpoint, (method, url, allowed) in _routes(ids).items():
        if role not in allowed:
            wanted = {403}
        elif who not in SEES_TEAM:
            wanted = {404}
        else:
            wanted = {200} if method == "GET" else {302}
        got = (
            client.get(url).status_code
            if method == "GET"
            else client.post(url, data={"csrf_token": token}).status_code
        )
        if got not in wanted:
            failures.append(f"{who} {method} {endpoint}: expected {wanted}, got {got}")
    assert not failures, "\n".join(failures)
