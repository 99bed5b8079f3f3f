"""Rectification items (整改): created on acknowledgement, rectified with evidence, verified."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fdoctor.assessments import rectification, revisions, steps
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import Assessment, Rectification
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from tests.factories.assessments import TODAY, World, score_all_manual

pytestmark = pytest.mark.db


def _acknowledged_l2(world: World, points: dict[str, Decimal]) -> Assessment:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    centre = world.user("centre")
    score_all_manual(a, centre, points)
    steps.submit(a, centre)
    steps.publish(a, centre, today=TODAY)
    steps.acknowledge(a, world.user("leader"), today=TODAY)
    db.session.commit()
    return a


def test_items_under_sixty_percent_become_rectification_items_with_owner_and_deadline(
    world: World,
) -> None:
    a = _acknowledged_l2(world, {"A4": Decimal("1.5"), "B2": Decimal("4.8")})
    rects = {
        r.code: r
        for r in db.session.scalars(
            select(Rectification).where(Rectification.assessment_id == a.id)
        )
    }
    low = {i.code for i in a.items if i.points < i.max_points * Decimal("0.6")}
    assert set(rects) == low and "A4" in rects and "B2" not in rects  # 4.8 is exactly 60% of 8
    rect = rects["A4"]
    assert (
        rect.owner_unit_id == world.tree.team.id and rect.owner_user_id == world.user("leader").id
    )
    assert rect.deadline == TODAY + timedelta(days=30) and rect.status == "open"
    assert rect.team_id == world.tree.team.id


def test_rectification_goes_open_rectified_verified(world: World) -> None:
    a = _acknowledged_l2(world, {"A4": Decimal(1)})
    rect = db.session.scalar(
        select(Rectification).where(Rectification.assessment_id == a.id, Rectification.code == "A4")
    )
    rectification.rectify(rect, world.user("leader"), "补建培训台账，附签到表")
    assert rect.status == "rectified" and rect.rectified_by_id == world.user("leader").id
    rectification.verify_rectification(rect, world.user("centre"), "台账已核", accept=True)
    db.session.commit()
    assert rect.status == "verified" and rect.verified_by_id == world.user("centre").id


def test_rectification_refuses_the_wrong_people_and_steps(world: World) -> None:
    a = _acknowledged_l2(world, {"A4": Decimal(1)})
    rect = db.session.scalar(
        select(Rectification).where(Rectification.assessment_id == a.id, Rectification.code == "A4")
    )
    with pytest.raises(AssessmentError, match="只有整改责任单位（东街一队）可以提交整改情况"):
        rectification.rectify(rect, world.user("leader2"), "代为整改")
    with pytest.raises(AssessmentError, match="请填写整改措施"):
        rectification.rectify(rect, world.user("leader"), " ")
    with pytest.raises(AssessmentError, match="须先由责任单位提交整改情况"):
        rectification.verify_rectification(rect, world.user("centre"), None)
    rectification.rectify(rect, world.user("leader"), "已整改")
    with pytest.raises(AssessmentError, match="只有考核单位可以核验整改"):
        rectification.verify_rectification(rect, world.user("leader"), None)
    with pytest.raises(AssessmentError, match="退回整改须写明理由"):
        rectification.verify_rectification(rect, world.user("centre"), "", accept=False)
    rectification.verify_rectification(rect, world.user("centre"), "佐证不足", accept=False)
    assert rect.status == "open" and rect.verify_note == "佐证不足"


def test_a_revision_does_not_duplicate_rectification_items(world: World) -> None:
    a = _acknowledged_l2(world, {"A4": Decimal(1)})
    new = revisions.correct(
        a, world.user("centre"), {"B2": ("2", "病历质量差")}, "复查", today=TODAY
    )
    steps.acknowledge(new, world.user("leader"), today=TODAY)
    db.session.commit()
    rows = db.session.execute(
        select(Rectification.code, Rectification.assessment_id).where(
            Rectification.assessment_id.in_([a.id, new.id])
        )
    ).all()
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes))
    assert ("A4", a.id) in rows and ("B2", new.id) in rows
