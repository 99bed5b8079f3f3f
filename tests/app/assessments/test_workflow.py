"""The workflow: scoring through to acknowledgement, and every forbidden step refused in Chinese."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from fdoctor.assessments import marking, steps, transitions
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import ASSESSMENT_STATUSES, Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from tests.factories.assessments import PERIOD, TODAY, World, score_all_manual

pytestmark = pytest.mark.db


def _l1(world: World) -> Assessment:
    open_assessments("L1", PERIOD)
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L1", Assessment.unit_id == world.tree.team.id)
    )
    assert a is not None
    return a


def _l2(world: World) -> Assessment:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    assert a is not None
    return a


def _published_l2(world: World, points: dict[str, Decimal] | None = None) -> Assessment:
    a = _l2(world)
    centre = world.user("centre")
    score_all_manual(a, centre, points)
    steps.submit(a, centre)
    steps.publish(a, centre, today=TODAY)
    return a


def test_l1_goes_from_open_to_acknowledged_with_the_total_of_its_items(world: World) -> None:
    a = _l1(world)
    leader = world.user("leader")
    score_all_manual(a, leader, {"A4": Decimal("2.5")})
    assert a.status == "draft"
    steps.submit(a, leader)
    assert a.status == "submitted" and a.submitted_by_id == leader.id
    steps.publish(a, leader, today=TODAY)
    assert a.status == "published" and a.appeal_deadline is None  # no appeal at the self-check
    steps.acknowledge(a, leader, today=TODAY)
    db.session.commit()
    assert a.status == "acknowledged"
    assert a.total == sum(i.points for i in a.items)
    assert a.total == a.dimension_a + a.dimension_b + a.dimension_c
    a4 = next(i for i in a.items if i.code == "A4")
    assert a4.points == Decimal("2.50") and a4.reason == "测试理由：未达标"


def test_every_transition_outside_the_table_is_refused(world: World) -> None:
    a = _l2(world)
    centre, leader = world.user("centre"), world.user("leader")
    for status in ASSESSMENT_STATUSES:
        if status == "superseded":
            continue
        a.status = status
        for name, transition in transitions.TRANSITIONS.items():
            if status in transition.sources:
                continue
            user = centre if transition.actor == transitions.ASSESSOR else leader
            with pytest.raises(AssessmentError, match="当前状态为|不可修改") as info:
                transitions.check(a, user, name)
            assert info.value.status == 409, (status, name)


def test_acknowledging_a_draft_is_refused(world: World) -> None:
    a = _l1(world)
    leader = world.user("leader")
    score_all_manual(a, leader)
    with pytest.raises(AssessmentError, match="当前状态为“评分中”，不能确认"):
        steps.acknowledge(a, leader)


def test_publishing_twice_is_refused(world: World) -> None:
    a = _published_l2(world)
    with pytest.raises(AssessmentError, match="当前状态为“已公示”，不能公示"):
        steps.publish(a, world.user("centre"))


def test_editing_a_published_assessment_is_refused(world: World) -> None:
    a = _published_l2(world)
    with pytest.raises(AssessmentError, match="结果不可修改；如需更正，请由考核单位发起修订"):
        marking.score_manual(a, world.user("centre"), {"A4": ("1", "改分")})
    with pytest.raises(AssessmentError, match="结果不可修改"):
        steps.refresh(a, world.user("centre"))


def test_a_manual_score_below_maximum_without_reason_is_refused(world: World) -> None:
    a = _l1(world)
    with pytest.raises(AssessmentError, match="低于满分 3 分，须填写理由"):
        marking.score_manual(a, world.user("leader"), {"A4": ("2", "  ")})
    assert next(i for i in a.items if i.code == "A4").points is None


def test_a_manual_score_above_maximum_or_not_a_number_is_refused(world: World) -> None:
    a = _l1(world)
    with pytest.raises(AssessmentError, match="应在 0 到 3 分之间"):
        marking.score_manual(a, world.user("leader"), {"A4": ("4", "太高")})
    with pytest.raises(AssessmentError, match="不是数字"):
        marking.score_manual(a, world.user("leader"), {"A4": ("三", "")})


def test_scoring_a_metric_item_by_hand_is_refused(world: World) -> None:
    a = _l1(world)
    with pytest.raises(AssessmentError, match="由记录计算得分，不能手工评分"):
        marking.score_manual(a, world.user("leader"), {"A1": ("1", "不认可")})


def test_submitting_with_unscored_items_is_refused(world: World) -> None:
    a = _l1(world)
    marking.score_manual(a, world.user("leader"), {"A4": ("3", "")})
    with pytest.raises(AssessmentError, match="以下指标尚未评分，不能提交：.*B2"):
        steps.submit(a, world.user("leader"))


def test_only_the_assessor_unit_may_score(world: World) -> None:
    a = _l2(world)
    with pytest.raises(
        AssessmentError,
        match="只有考核单位（甲区东街社区卫生服务中心）的社区卫生服务中心/乡镇卫生院可以评分",
    ) as info:
        marking.score_manual(a, world.user("leader"), {"A4": ("3", "")})
    assert info.value.status == 403
    with pytest.raises(AssessmentError, match="只有考核单位"):
        marking.score_manual(a, world.user("other_centre"), {"A4": ("3", "")})


def test_only_the_assessee_may_acknowledge(world: World) -> None:
    a = _published_l2(world)
    with pytest.raises(AssessmentError, match="只有被考核单位（东街一队）的团队长可以确认") as info:
        steps.acknowledge(a, world.user("centre"))
    assert info.value.status == 403
    with pytest.raises(AssessmentError, match="只有被考核单位"):
        steps.acknowledge(a, world.user("leader2"))


def test_a_submitted_assessment_can_be_returned_for_changes_before_publishing(world: World) -> None:
    a = _l2(world)
    centre = world.user("centre")
    score_all_manual(a, centre)
    steps.submit(a, centre)
    steps.reopen(a, centre)
    assert a.status == "draft" and a.submitted_at is None
    marking.score_manual(a, centre, {"A4": ("2", "培训记录不全")})
    steps.submit(a, centre)
    assert a.status == "submitted"


def test_allowed_actions_follow_role_and_state(world: World) -> None:
    a = _published_l2(world)
    assert transitions.allowed_actions(a, world.user("leader"), TODAY) == {"acknowledge", "appeal"}
    assert transitions.allowed_actions(a, world.user("centre"), TODAY) == {"correct"}
    assert transitions.allowed_actions(a, world.user("leader"), date(2026, 4, 30)) == {
        "acknowledge"
    }
    assert transitions.allowed_actions(a, world.user("county"), TODAY) == set()
