"""Appeals (申诉) and corrections: revisions keep the old result, one current revision."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fdoctor.assessments import appeals, revisions, steps
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from tests.factories.assessments import TODAY, World, score_all_manual

pytestmark = pytest.mark.db


def _published_l2(world: World) -> Assessment:
    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    centre = world.user("centre")
    score_all_manual(a, centre, {"B2": Decimal(4)})
    steps.submit(a, centre)
    steps.publish(a, centre, today=TODAY)
    db.session.commit()
    return a


def test_publishing_opens_a_seven_day_appeal_window(world: World) -> None:
    a = _published_l2(world)
    assert a.appeal_deadline == TODAY + timedelta(days=7)


def test_accepted_appeal_creates_a_revision_and_keeps_both(world: World) -> None:
    a = _published_l2(world)
    old_total = a.total
    record = appeals.appeal(
        a, world.user("leader"), {"B2": ("病历抽查样本不具代表性", "7")}, today=TODAY
    )
    assert a.status == "appealed"
    new = appeals.answer_appeal(
        record, world.user("centre"), {"B2": ("accepted", "7", "复核后认可")}
    )
    db.session.commit()
    assert new.id != a.id and new.revision == 2 and new.supersedes_id == a.id
    assert new.is_current and not a.is_current and a.status == "superseded"
    assert new.status == "published" and new.total == old_total + 3
    b2 = next(i for i in new.items if i.code == "B2")
    assert b2.points == 7 and b2.source == "override" and "复核后认可" in (b2.reason or "")
    assert next(i for i in a.items if i.code == "B2").points == 4  # the old revision is untouched
    assert record.revision_id == new.id and record.status == "answered"
    chain = db.session.scalars(
        select(Assessment).where(Assessment.unit_id == a.unit_id, Assessment.level == "L2")
    ).all()
    assert len(chain) == 2


def test_rejected_appeal_returns_to_published_with_the_reason(world: World) -> None:
    a = _published_l2(world)
    record = appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    current = appeals.answer_appeal(
        record, world.user("centre"), {"B2": ("rejected", None, "抽查样本按规定随机抽取")}
    )
    assert current.id == a.id and a.status == "published" and a.revision == 1
    assert (
        record.items[0].decision == "rejected"
        and record.items[0].answer == "抽查样本按规定随机抽取"
    )


def test_appeal_after_the_deadline_is_refused(world: World) -> None:
    a = _published_l2(world)
    late = (a.appeal_deadline or TODAY) + timedelta(days=1)
    with pytest.raises(AssessmentError, match="申诉期已过（截止 2026-04-09），不能再申诉"):
        appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=late)


def test_appeal_needs_a_reason_per_indicator(world: World) -> None:
    a = _published_l2(world)
    with pytest.raises(AssessmentError, match="申诉指标 B2（合理医疗与质量）须写明理由"):
        appeals.appeal(a, world.user("leader"), {"B2": ("", "7")}, today=TODAY)
    with pytest.raises(AssessmentError, match="请至少选择一项指标"):
        appeals.appeal(a, world.user("leader"), {}, today=TODAY)


def test_a_second_appeal_is_refused(world: World) -> None:
    a = _published_l2(world)
    record = appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    appeals.answer_appeal(record, world.user("centre"), {"B2": ("rejected", None, "维持")})
    with pytest.raises(AssessmentError, match="只能申诉一次"):
        appeals.appeal(a, world.user("leader"), {"A4": ("再申诉", None)}, today=TODAY)


def test_answer_needs_a_decision_and_reason_for_every_indicator(world: World) -> None:
    a = _published_l2(world)
    record = appeals.appeal(a, world.user("leader"), {"B2": ("不认可", None)}, today=TODAY)
    with pytest.raises(AssessmentError, match="须写明理由"):
        appeals.answer_appeal(record, world.user("centre"), {"B2": ("rejected", None, "")})
    with pytest.raises(AssessmentError, match="须填写更正后的分数"):
        appeals.answer_appeal(record, world.user("centre"), {"B2": ("accepted", "", "认可")})
    assert a.status == "appealed" and record.status == "pending"


def test_the_l1_self_check_has_no_appeal(world: World) -> None:
    open_assessments("L1", "2026-03")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L1", Assessment.unit_id == world.tree.team.id)
    )
    leader = world.user("leader")
    score_all_manual(a, leader)
    steps.submit(a, leader)
    steps.publish(a, leader)
    with pytest.raises(AssessmentError, match="月度自查由团队自评自查，不设申诉"):
        appeals.appeal(a, leader, {"A4": ("x", None)})


def test_correction_of_an_acknowledged_result_is_a_revision_with_a_reason(world: World) -> None:
    a = _published_l2(world)
    steps.acknowledge(a, world.user("leader"), today=TODAY)
    with pytest.raises(AssessmentError, match="须写明修订理由"):
        revisions.correct(a, world.user("centre"), {"A4": ("1", None)}, "")
    new = revisions.correct(
        a,
        world.user("centre"),
        {"A4": ("1", "培训台账缺失")},
        "复查发现培训台账缺失",
        today=date(2026, 4, 20),
    )
    db.session.commit()
    assert new.revision == 2 and new.revision_reason == "复查发现培训台账缺失"
    assert a.status == "superseded" and a.total - new.total == 2
    assert new.appeal_deadline == date(2026, 4, 27)
    with pytest.raises(AssessmentError, match="该考核已被修订"):
        revisions.correct(a, world.user("centre"), {"A4": ("2", None)}, "再改")
