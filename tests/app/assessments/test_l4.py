"""The municipal check (L4): a stored, reproducible draw and the 40/60 combination with its flag."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from assessments.sampling import draw_spot_check
from fdoctor.assessments import steps
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.l4 import (
    compute_l4,
    draw_is_reproducible,
    draw_l4_spot_check,
    stored_selection,
)
from fdoctor.assessments.models import Assessment, SpotCheckDraw
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.org.services import add_unit
from tests.factories.assessments import World, score_all_manual

pytestmark = pytest.mark.db


@pytest.fixture()
def institutions(world: World) -> list[OrgUnit]:
    """Two more institutions in the first county (three there, one in the other)."""
    county = world.tree.county
    extra = [
        add_unit(
            "410001-02", "甲区西街社区卫生服务中心", "institution", county, "community_centre"
        ),
        add_unit("410001-03", "甲区南关镇卫生院", "institution", county, "township_centre"),
    ]
    db.session.commit()
    return [world.tree.institution, *extra]


def test_the_draw_takes_two_per_county_or_all_and_stores_every_candidate(
    world: World, institutions: list[OrgUnit]
) -> None:
    draw = draw_l4_spot_check(2025)
    db.session.commit()
    selection = stored_selection(draw)
    assert len(selection[world.tree.county.id]) == 2
    assert len(selection[world.tree.other_county.id]) == 1  # only one institution there
    assert len(draw.items) == 4 and draw.seed > 0


def test_the_draw_is_reproducible_from_its_stored_seed(
    world: World, institutions: list[OrgUnit]
) -> None:
    draw = draw_l4_spot_check(2025)
    db.session.commit()
    candidates: dict[int, list[int]] = {}
    for item in (
        db.session.scalars(select(SpotCheckDraw).where(SpotCheckDraw.year == 2025)).one().items
    ):
        candidates.setdefault(item.county_id, []).append(item.institution_id)
    assert draw_spot_check(candidates, draw.seed, draw.per_county) == stored_selection(draw)
    assert draw_is_reproducible(draw)


def test_drawing_again_returns_the_stored_draw_and_refuses_another_seed(
    world: World, institutions: list[OrgUnit]
) -> None:
    first = draw_l4_spot_check(2025, seed=12345)
    db.session.commit()
    again = draw_l4_spot_check(2025)
    assert again.id == first.id and again.seed == 12345
    with pytest.raises(AssessmentError, match="已抽取（随机种子 12345），不能换种子重抽"):
        draw_l4_spot_check(2025, seed=999)


def test_a_tampered_draw_is_detected(world: World, institutions: list[OrgUnit]) -> None:
    draw = draw_l4_spot_check(2025, seed=7)
    chosen = next(i for i in draw.items if i.selected and i.county_id == world.tree.county.id)
    skipped = next(i for i in draw.items if not i.selected)
    chosen.selected, skipped.selected = False, True
    skipped.draw_order, chosen.draw_order = chosen.draw_order, None
    assert not draw_is_reproducible(draw)


def test_the_draw_opens_a_spot_check_assessment_per_sampled_institution(
    world: World, institutions: list[OrgUnit]
) -> None:
    draw = draw_l4_spot_check(2025)
    spot = db.session.scalars(select(Assessment).where(Assessment.level == "L4S")).all()
    assert {a.unit_id for a in spot} == {i.institution_id for i in draw.items if i.selected}
    assert all(a.assessor_unit_id == world.tree.city.id and a.period == "2025" for a in spot)


def _submit_all(
    level: str, period: str, user_name: str, world: World, low: dict[str, Decimal] | None = None
) -> list[Assessment]:
    rows = db.session.scalars(
        select(Assessment).where(Assessment.level == level, Assessment.period == period)
    ).all()
    done = []
    for a in rows:
        user = (
            world.user(user_name)
            if a.county_id == world.tree.county.id or level == "L4S"
            else world.user("other_county")
        )
        score_all_manual(a, user, low)
        steps.submit(a, user)
        done.append(a)
    return done


def test_l4_combines_forty_percent_reported_and_sixty_percent_spot_check_and_flags_the_gap(
    world: World, institutions: list[OrgUnit]
) -> None:
    open_assessments("L3", "2025-H2")
    l3 = _submit_all("L3", "2025-H2", "county", world)
    draw_l4_spot_check(2025, seed=2025)
    # The city finds B2, A4 and C3 much worse than the county reported: 8 + 3 + 10 points lower.
    spots = _submit_all(
        "L4S", "2025", "city", world, {"B2": Decimal(0), "A4": Decimal(0), "C3": Decimal(0)}
    )
    open_assessments("L4", "2025")
    l4 = db.session.scalar(
        select(Assessment).where(
            Assessment.level == "L4", Assessment.unit_id == world.tree.county.id
        )
    )
    score_all_manual(l4, world.user("city"))
    breakdown = compute_l4(l4)
    reported_totals = {a.unit_id: a.total for a in l3 if a.county_id == world.tree.county.id}
    assert all(t is not None for t in reported_totals.values())
    spot_totals = [a.total for a in spots if a.county_id == world.tree.county.id]
    expected_spot = (sum(spot_totals) / len(spot_totals)).quantize(Decimal("0.01"))
    assert breakdown.spot == expected_spot
    assert breakdown.total == (
        Decimal("0.4") * breakdown.reported + Decimal("0.6") * breakdown.spot
    ).quantize(Decimal("0.01"))
    assert l4.total == breakdown.total and l4.reported_score == breakdown.reported
    assert l4.flagged and "高于市级抽查 10 分以上" in (l4.flag_reason or "")
    assert len(breakdown.flagged) == 2


def test_l4_is_not_flagged_when_the_spot_check_agrees(
    world: World, institutions: list[OrgUnit]
) -> None:
    open_assessments("L3", "2025-H2")
    _submit_all("L3", "2025-H2", "county", world)
    draw_l4_spot_check(2025, seed=2025)
    _submit_all("L4S", "2025", "city", world, {"B2": Decimal(0)})  # 8 points lower: within 10
    open_assessments("L4", "2025")
    l4 = db.session.scalar(
        select(Assessment).where(
            Assessment.level == "L4", Assessment.unit_id == world.tree.county.id
        )
    )
    breakdown = compute_l4(l4)
    assert not l4.flagged and breakdown.flagged == []


def test_l4_cannot_be_submitted_before_the_spot_checks(
    world: World, institutions: list[OrgUnit]
) -> None:
    open_assessments("L3", "2025-H2")
    _submit_all("L3", "2025-H2", "county", world)
    draw_l4_spot_check(2025)
    open_assessments("L4", "2025")
    l4 = db.session.scalar(
        select(Assessment).where(
            Assessment.level == "L4", Assessment.unit_id == world.tree.county.id
        )
    )
    score_all_manual(l4, world.user("city"))
    with pytest.raises(AssessmentError, match="的市级评分尚未提交，不能合成市级得分"):
        steps.submit(l4, world.user("city"))
    assert l4.status == "draft"
