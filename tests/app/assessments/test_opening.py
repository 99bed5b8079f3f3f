"""Opening assessments: one per assessee, filled from the records, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import Assessment, AssessmentItem
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.factories.assessments import PERIOD, World

pytestmark = pytest.mark.db


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_opening_l1_creates_one_assessment_per_team_assessed_by_the_team(world: World) -> None:
    result = open_assessments("L1", PERIOD)
    db.session.commit()
    rows = db.session.scalars(select(Assessment).where(Assessment.level == "L1")).all()
    teams = {world.tree.team.id, world.tree.team2.id, world.tree.other_team.id}
    assert {a.unit_id for a in rows} == teams
    assert all(a.assessor_unit_id == a.unit_id and a.status == "open" for a in rows)
    assert len(result.created) == 3 and result.existing == 0


def test_opening_the_same_level_and_period_twice_creates_nothing_new(world: World) -> None:
    open_assessments("L1", PERIOD)
    db.session.commit()
    before = (_count(Assessment), _count(AssessmentItem))
    again = open_assessments("L1", PERIOD)
    db.session.commit()
    assert again.created == [] and again.existing == 3
    assert (_count(Assessment), _count(AssessmentItem)) == before


def test_opening_fills_metric_items_from_the_records_and_stores_the_index_file(
    world: World,
) -> None:
    open_assessments("L1", PERIOD)
    a = db.session.scalar(select(Assessment).where(Assessment.unit_id == world.tree.team.id))
    assert a is not None
    assert (
        a.index_file == "city-2026.toml"
        and a.index_code == "city-2026"
        and len(a.index_sha256 or "") == 64
    )
    items = {i.code: i for i in a.items}
    assert len(items) == 16
    # Two residents signed out of a registered population of 20.
    assert items["A1"].numerator == 2 and items["A1"].denominator == 20
    assert items["A1"].source == "metric" and items["A1"].points is not None
    # Manual indicators wait for the assessor.
    assert items["A4"].source == "manual" and items["A4"].points is None
    assert a.due_on.isoformat() == "2026-04-05"


def test_a_metric_without_events_and_without_when_empty_must_be_scored_by_hand(
    world: World,
) -> None:
    open_assessments("L1", PERIOD)
    a = db.session.scalar(select(Assessment).where(Assessment.unit_id == world.tree.team.id))
    satisfaction = next(i for i in a.items if i.code == "C3")
    assert satisfaction.source == "manual" and satisfaction.points is None
    assert "须由考核人员评分" in (satisfaction.score_detail or "")
    referral = next(i for i in a.items if i.code == "B7")  # when_empty = 0.5
    assert referral.source == "metric" and referral.points == 3


def test_opening_a_period_that_has_not_ended_is_refused_in_chinese(world: World) -> None:
    with pytest.raises(AssessmentError, match="尚未结束"):
        open_assessments("L1", "2026-04")


def test_opening_levels_assign_the_right_assessor_units(world: World) -> None:
    from datetime import date

    with clock.frozen(date(2026, 4, 2)):
        open_assessments("L2", "2026-Q1")
    with clock.frozen(date(2026, 7, 2)):
        open_assessments("L3", "2026-H1")
    with clock.frozen(date(2026, 1, 2)):
        open_assessments("L4", "2025")
    t = world.tree
    by_level = {
        lv: {
            a.unit_id: a.assessor_unit_id
            for a in db.session.scalars(select(Assessment).where(Assessment.level == lv))
        }
        for lv in ("L2", "L3", "L4")
    }
    assert by_level["L2"][t.team.id] == t.institution.id
    assert by_level["L3"][t.institution.id] == t.county.id
    assert by_level["L4"] == {t.county.id: t.city.id, t.other_county.id: t.city.id}
