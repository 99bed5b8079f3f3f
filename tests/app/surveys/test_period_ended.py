"""A verification sample (抽查样本) is drawn only after its period ends.

A centre's quarter (L2) and a county's half-year (L3, H1 and the year-end H2) are tried at 23:59
on the period's last day (refused, in Chinese, naming the first allowed day) and at 00:00 on the
next day (drawn), through the service and the draw form of the samples page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from assessments.periods import Period
from assessments.tiers import Level
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.surveys.errors import SurveyError
from fdoctor.surveys.models import VerificationSample
from fdoctor.surveys.samples import draw_sample
from tests.conftest import AuthActions
from tests.factories.surveys import World, bulk_signed, make_world

pytestmark = pytest.mark.db

# (level, period, last day, the user who draws)
CASES = [
    (Level.L2, "2026-Q3", date(2026, 9, 30), "centre"),
    (Level.L3, "2026-H1", date(2026, 6, 30), "county"),
    (Level.L3, "2026-H2", date(2026, 12, 31), "county"),
]
IDS = [case[1] for case in CASES]


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(date(2026, 1, 5)):
        built = make_world()
        bulk_signed(built.tree.team, 25, date(2026, 1, 1), date(2027, 12, 31))
        db.session.commit()
    yield built


def _last_minute(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59)


def _first_minute_after(day: date) -> datetime:
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day, 0, 0)


def _samples() -> int:
    return db.session.scalar(select(func.count()).select_from(VerificationSample))


def _refusal(period: str, last: date) -> str:
    return f"{period} 尚未结束，最早可于 {(last + timedelta(days=1)).isoformat()} 抽样。"


@pytest.mark.parametrize(("level", "period", "last", "who"), CASES, ids=IDS)
def test_the_sample_is_refused_on_the_last_day_and_drawn_the_day_after(
    world: World, level: Level, period: str, last: date, who: str
) -> None:
    user = world.users[who]
    unit = world.tree.institution if level is Level.L2 else world.tree.county
    with clock.frozen(_last_minute(last)), pytest.raises(SurveyError) as refused:
        draw_sample(unit, level, Period.parse(period), user)
    assert str(refused.value) == _refusal(period, last)
    assert _samples() == 0
    with clock.frozen(_first_minute_after(last)):
        sample, created = draw_sample(unit, level, Period.parse(period), user)
    assert created and (sample.level, sample.period) == (level.value, period)


@pytest.mark.parametrize(("level", "period", "last", "who"), CASES, ids=IDS)
def test_the_draw_form_refuses_the_last_day_in_chinese_and_draws_the_day_after(
    client: FlaskClient,
    world: World,
    level: Level,
    period: str,
    last: date,
    who: str,
    auth: AuthActions,
) -> None:
    with clock.frozen(_last_minute(last)):
        token = auth.login_as(world.users[who])
        refused = client.post(
            "/surveys/samples/draw",
            data={"period": period, "csrf_token": token},
            follow_redirects=True,
        )
    assert refused.status_code == 200
    assert _refusal(period, last) in refused.get_data(as_text=True)
    assert _samples() == 0
    with clock.frozen(_first_minute_after(last)):
        drawn = client.post("/surveys/samples/draw", data={"period": period, "csrf_token": token})
    assert drawn.status_code == 302
    sample = db.session.scalar(select(VerificationSample))
    assert sample is not None and (sample.level, sample.period) == (level.value, period)
