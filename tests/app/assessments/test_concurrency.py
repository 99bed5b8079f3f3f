"""Two assessors scoring the same assessment at once: one wins, the other gets a clear message,
nothing is overwritten silently."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from assessments.periods import Period
from assessments.tiers import Level
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.assessments import TODAY, World

pytestmark = pytest.mark.db


def _open_l1(world: World) -> int:
    with clock.frozen(TODAY):
        open_assessments(Level.L1, Period.parse("2026-03"))
        db.session.commit()
    return db.session.scalar(
        select(Assessment.id).where(
            Assessment.level == "L1", Assessment.unit_id == world.tree.team.id
        )
    )


def _manual_code(assessment_id: int) -> str:
    return db.session.scalar(
        select(AssessmentItem.code)
        .where(AssessmentItem.assessment_id == assessment_id, AssessmentItem.source == "manual")
        .order_by(AssessmentItem.code)
    )


def test_two_sessions_saving_at_once_the_second_gets_stale_data_error(
    app: Flask, world: World
) -> None:
    assessment_id = _open_l1(world)
    first, second = Session(db.engine), Session(db.engine)
    try:
        a1, a2 = first.get(Assessment, assessment_id), second.get(Assessment, assessment_id)
        assert a1.row_version == a2.row_version  # both read the same version
        seen = a1.row_version
        a1.total, a2.total = Decimal("81.00"), Decimal("82.00")
        first.commit()
        with pytest.raises(StaleDataError):
            second.commit()
        second.rollback()
    finally:
        first.close()
        second.close()
    db.session.expire_all()
    saved = db.session.get(Assessment, assessment_id)
    assert saved.total == Decimal("81.00") and saved.row_version == seen + 1


def test_a_stale_page_cannot_overwrite_a_newer_score(
    app: Flask, world: World, auth: AuthActions
) -> None:
    assessment_id = _open_l1(world)
    code = _manual_code(assessment_id)
    leader = world.users["leader"]
    first, second = auth.client_for(leader), auth.client_for(leader)
    url = f"/assessments/{assessment_id}"
    with clock.frozen(TODAY):
        pages = [c.get(url).get_data(as_text=True) for c in (first, second)]
        seen = [re.search(r'name="row_version" value="(\d+)"', p).group(1) for p in pages]
        tokens = [
            re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', p).group(1) for p in pages
        ]
        assert seen[0] == seen[1]
        ok = first.post(
            f"{url}/score",
            data={
                "csrf_token": tokens[0],
                "row_version": seen[0],
                f"points-{code}": "1",
                f"reason-{code}": "甲",
            },
            follow_redirects=True,
        )
        assert "评分已保存" in ok.get_data(as_text=True)
        late = second.post(
            f"{url}/score",
            data={
                "csrf_token": tokens[1],
                "row_version": seen[1],
                f"points-{code}": "2",
                f"reason-{code}": "乙",
            },
            follow_redirects=True,
        )
    assert "刚刚被其他人修改" in late.get_data(as_text=True)
    db.session.expire_all()
    reason = db.session.scalar(
        select(AssessmentItem.reason).where(
            AssessmentItem.assessment_id == assessment_id, AssessmentItem.code == code
        )
    )
    assert reason == "甲"
