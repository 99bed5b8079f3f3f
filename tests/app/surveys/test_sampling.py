"""Verification sampling (抽查): sizes, the stored seed replays the draw, one sample per period,
and open suspicion flags raise a team's sample."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from assessments.periods import Period
from assessments.sampling import draw_residents_per_team
from assessments.tiers import Level
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.models import VerificationSample, VerificationSampleItem
from fdoctor.surveys.samples import draw_sample, period_candidates, replay_sample, stored_draw
from tests.conftest import AuthActions
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_resident, bulk_signed, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)
Q3 = Period.parse("2026-Q3")
START, END = date(2026, 1, 1), date(2027, 12, 31)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


def _sizes(sample: VerificationSample) -> dict[int, int]:
    return {part.team_id: part.size for part in sample.teams}


def test_team_sizes_are_five_percent_with_a_minimum_of_twenty(world: World) -> None:
    tree = world.tree
    bulk_signed(tree.team, 30, START, END)
    bulk_signed(tree.team2, 420, START, END)
    sample, created = draw_sample(tree.institution, Level.L2, Q3, world.users["centre"])
    assert created
    assert _sizes(sample) == {tree.team.id: 20, tree.team2.id: 21}  # 5% of 420 is 21
    items = db.session.scalar(
        select(func.count(VerificationSampleItem.id)).where(
            VerificationSampleItem.sample_id == sample.id
        )
    )
    assert items == 41


def test_rate_and_minimum_come_from_the_config(app: Flask, world: World) -> None:
    bulk_signed(world.tree.team, 40, START, END)
    app.config.update(VERIFICATION_SAMPLE_RATE="0.10", VERIFICATION_SAMPLE_MINIMUM=3)
    try:
        sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    finally:
        app.config.pop("VERIFICATION_SAMPLE_RATE")
        app.config.pop("VERIFICATION_SAMPLE_MINIMUM")
    assert (sample.rate, sample.minimum) == ("0.10", 3)
    assert _sizes(sample)[world.tree.team.id] == 4


def test_a_team_smaller_than_the_minimum_is_called_in_full(world: World) -> None:
    residents = bulk_signed(world.tree.team, 7, START, END)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    assert sorted(stored_draw(sample)[world.tree.team.id]) == sorted(r.id for r in residents)


def test_redrawing_from_the_stored_seed_gives_the_same_residents(world: World) -> None:
    tree = world.tree
    bulk_signed(tree.team, 60, START, END)
    bulk_signed(tree.team2, 45, START, END)
    sample, _ = draw_sample(tree.institution, Level.L2, Q3, world.users["centre"])
    drawn = stored_draw(sample)
    assert replay_sample(sample) == drawn
    # The pure core alone, given the stored seed, rate, minimum and weights, agrees too.
    again = draw_residents_per_team(
        period_candidates(tree.institution, Level.L2, Q3),
        sample.seed,
        Decimal(sample.rate),
        sample.minimum,
        {part.team_id: Decimal(part.risk_weight) for part in sample.teams},
    )
    assert again == drawn


def test_the_draw_order_is_stored_per_team(world: World) -> None:
    bulk_signed(world.tree.team, 25, START, END)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    orders = db.session.scalars(
        select(VerificationSampleItem.draw_order)
        .where(VerificationSampleItem.sample_id == sample.id)
        .order_by(VerificationSampleItem.draw_order)
    ).all()
    assert orders == list(range(1, 21))


def test_drawing_twice_returns_the_existing_sample(world: World) -> None:
    bulk_signed(world.tree.team, 30, START, END)
    first, created = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    db.session.commit()
    second, created_again = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    assert created and not created_again
    assert second.id == first.id
    assert db.session.scalar(select(func.count(VerificationSample.id))) == 1
    assert db.session.scalar(select(func.count(VerificationSampleItem.id))) == 20


def test_the_database_refuses_a_second_sample_for_the_same_period(world: World) -> None:
    from sqlalchemy.exc import IntegrityError

    unit = world.tree.institution
    for _ in range(2):
        db.session.add(
            VerificationSample(
                org_unit_id=unit.id,
                county_id=unit.county_id,
                level="L2",
                period="2026-Q3",
                seed=1,
                drawn_at=datetime(2026, 10, 2, 9),
            )
        )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def _open_flag(world: World) -> None:
    household = make_household(world.tree.team)
    resident = add_resident(household)
    contract = make_contract(household, [resident], START, END)
    db.session.add(
        SuspicionFlag(
            kind="signed_not_served",
            subject_key=f"contract:{contract.id}:2026",
            contract_id=contract.id,
            subject_date=date(2026, 9, 30),
            detail="测试",
            status="open",
            detected_at=datetime(2026, 10, 1, 8),
            county_id=contract.county_id,
            institution_id=contract.institution_id,
            team_id=contract.team_id,
        )
    )
    db.session.flush()


def test_open_flags_raise_a_teams_sample(world: World) -> None:
    tree = world.tree
    bulk_signed(tree.team, 99, START, END)  # +1 below: 100 signed, 1 open flag -> weight 2
    bulk_signed(tree.team2, 100, START, END)
    _open_flag(world)
    sample, _ = draw_sample(tree.institution, Level.L2, Q3, world.users["centre"])
    parts = {part.team_id: part for part in sample.teams}
    assert (parts[tree.team.id].open_flags, Decimal(parts[tree.team.id].risk_weight)) == (1, 2)
    assert parts[tree.team.id].size == 40
    assert parts[tree.team2.id].size == 20


def test_dismissed_flags_do_not_raise_the_sample(world: World) -> None:
    bulk_signed(world.tree.team, 99, START, END)
    _open_flag(world)
    flag = db.session.scalar(select(SuspicionFlag))
    assert flag is not None
    flag.status = "dismissed"
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    assert _sizes(sample)[world.tree.team.id] == 20


def test_candidates_are_the_residents_signed_in_the_period(world: World) -> None:
    team = world.tree.team
    signed = bulk_signed(team, 3, START, END)
    ended = make_household(team)
    expired = add_resident(ended)
    make_contract(ended, [expired], date(2025, 1, 1), date(2026, 6, 30), status="expired")
    gone = make_household(team)
    terminated = add_resident(gone)
    make_contract(
        gone, [terminated], START, END, status="terminated", terminated_on=date(2026, 6, 1)
    )
    dead_home = make_household(team)
    deceased = add_resident(dead_home)
    deceased.status = "deceased"
    make_contract(dead_home, [deceased], START, END)
    candidates = period_candidates(world.tree.institution, Level.L2, Q3)
    assert sorted(candidates[team.id]) == sorted(r.id for r in signed)


def test_the_county_draws_a_half_year_sample_for_all_its_institutions(world: World) -> None:
    tree = world.tree
    bulk_signed(tree.team, 30, START, END)
    bulk_signed(tree.team2, 30, START, END)
    bulk_signed(tree.other_team, 30, START, END)
    sample, _ = draw_sample(tree.county, Level.L3, Period.parse("2026-H1"), world.users["county"])
    assert (sample.level, sample.period, sample.org_unit_id) == ("L3", "2026-H1", tree.county.id)
    assert set(_sizes(sample)) == {tree.team.id, tree.team2.id}


def test_a_period_that_has_not_ended_cannot_be_drawn(world: World) -> None:
    with pytest.raises(SurveyError, match="尚未结束"):
        draw_sample(
            world.tree.institution, Level.L2, Period.parse("2026-Q4"), world.users["centre"]
        )


def test_centre_draws_from_the_samples_page_and_lands_on_the_call_list(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    bulk_signed(world.tree.team, 25, START, END)
    db.session.commit()
    with clock.frozen(TODAY):
        token = auth.login_as(world.users["centre"])
        response = client.post(
            "/surveys/samples/draw", data={"period": "2026-Q3", "csrf_token": token}
        )
        again = client.post(
            "/surveys/samples/draw", data={"period": "2026-Q3", "csrf_token": token}
        )
        page = client.get(again.headers["Location"]).get_data(as_text=True)
    sample = db.session.scalar(select(VerificationSample))
    assert sample is not None and sample.level == "L2"
    assert (
        response.headers["Location"] == again.headers["Location"] == f"/surveys/samples/{sample.id}"
    )
    assert "抽样已存在" in page and str(sample.seed) in page


def test_county_draw_from_the_page_is_level_three(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    bulk_signed(world.tree.team, 25, START, END)
    db.session.commit()
    with clock.frozen(TODAY):
        token = auth.login_as(world.users["county"])
        client.post("/surveys/samples/draw", data={"period": "2026-H1", "csrf_token": token})
    sample = db.session.scalar(select(VerificationSample))
    assert sample is not None and (sample.level, sample.org_unit_id) == ("L3", world.tree.county.id)


def test_a_malformed_period_is_refused_with_a_chinese_message(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    db.session.commit()
    with clock.frozen(TODAY):
        token = auth.login_as(world.users["centre"])
        response = client.post(
            "/surveys/samples/draw",
            data={"period": "2026-H1", "csrf_token": token},
            follow_redirects=True,
        )
    assert "需要季度周期" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(VerificationSample.id))) == 0


def test_samples_of_another_county_are_not_found(world: World, auth: AuthActions) -> None:
    bulk_signed(world.tree.team, 25, START, END)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    db.session.commit()
    with clock.frozen(TODAY):
        outsider = auth.client_for(world.users["other_county"])
        assert outsider.get(f"/surveys/samples/{sample.id}").status_code == 404
        insider = auth.client_for(world.users["county"])
        assert insider.get(f"/surveys/samples/{sample.id}").status_code == 200


def test_the_sample_page_summarises_each_team(world: World, auth: AuthActions) -> None:
    bulk_signed(world.tree.team, 25, START, END)
    sample, _ = draw_sample(world.tree.institution, Level.L2, Q3, world.users["centre"])
    db.session.commit()
    with clock.frozen(TODAY):
        client = auth.client_for(world.users["centre"])
        page = client.get(f"/surveys/samples/{sample.id}").get_data(as_text=True)
    summary = page.split('id="verification-report"')[1].split("</table>")[0]
    assert "暂无数据" not in summary
    assert f'data-team="{world.tree.team.id}"' in summary
