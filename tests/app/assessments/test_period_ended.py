"""No level is opened and no spot check drawn before the period ends (issue: periods judged early).

Each level is tried at its period's boundary with a frozen clock: at 23:59 on the period's last
day it is refused with a Chinese message naming the first allowed day, and at 00:00 on the next
day it is allowed; through the job command (``flask jobs run NAME --period``), the job service
(``run_job``), the open form of the assessment pages and the opening service itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.l4 import draw_l4_spot_check
from fdoctor.assessments.models import Assessment, SpotCheckDraw
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.scheduler.jobs import JobError, run_job
from tests.conftest import AuthActions, csrf_token
from tests.factories.assessments import World

pytestmark = pytest.mark.db

# (job, level, period, last day of the period, role that opens the level on the pages)
CASES = [
    ("open_l1", "L1", "2026-11", date(2026, 11, 30), "leader"),
    ("open_l2", "L2", "2026-Q2", date(2026, 6, 30), "centre"),
    ("open_l3", "L3", "2026-H1", date(2026, 6, 30), "county"),
    ("open_l3", "L3", "2026-H2", date(2026, 12, 31), "county"),
    ("open_l4", "L4", "2026", date(2026, 12, 31), "city"),
]
IDS = [case[2] for case in CASES]


def _last_minute(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 0)


def _first_minute_after(day: date) -> datetime:
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day, 0, 0, 0)


def _refusal(period: str, last: date, action: str) -> str:
    return f"{period} 尚未结束，最早可于 {(last + timedelta(days=1)).isoformat()} {action}。"


def _opened(level: str, period: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Assessment)
        .where(Assessment.level == level, Assessment.period == period)
    )


@pytest.mark.parametrize(("job", "level", "period", "last", "role"), CASES, ids=IDS)
def test_the_job_command_refuses_the_last_day_and_runs_the_day_after(
    app: Flask, world: World, job: str, level: str, period: str, last: date, role: str
) -> None:
    runner = app.test_cli_runner()
    with clock.frozen(_last_minute(last)):
        refused = runner.invoke(args=["jobs", "run", job, "--period", period])
    assert refused.exit_code != 0
    assert _refusal(period, last, "运行此任务") in refused.output
    assert _opened(level, period) == 0
    with clock.frozen(_first_minute_after(last)):
        allowed = runner.invoke(args=["jobs", "run", job, "--period", period])
    assert allowed.exit_code == 0, allowed.output
    assert _opened(level, period) > 0


@pytest.mark.parametrize(("job", "level", "period", "last", "role"), CASES, ids=IDS)
def test_a_job_run_for_a_later_date_is_refused_until_the_period_has_ended(
    world: World, job: str, level: str, period: str, last: date, role: str
) -> None:
    # --date D runs the job as on day D; a D after the period does not make the period over.
    scheduled = last + timedelta(days=1)
    with clock.frozen(_last_minute(last)), pytest.raises(JobError, match="尚未结束"):
        run_job(job, day=scheduled)
    assert _opened(level, period) == 0
    with clock.frozen(_first_minute_after(last)):
        outcome = run_job(job, day=scheduled)
    assert outcome.created > 0 and _opened(level, period) == outcome.created


def test_the_reported_runs_of_december_2026_are_refused(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    with clock.frozen(date(2026, 12, 6)):
        for job, period, first in (
            ("open_l1", "2027-06", "2027-07-01"),
            ("open_l2", "2026-Q4", "2027-01-01"),
            ("open_l3", "2026-H2", "2027-01-01"),
            ("open_l4", "2026", "2027-01-01"),
            ("draw_l4_sample", "2026", "2027-01-01"),
            ("remind_l1", "2026-12", "2027-01-01"),
            ("workload_report", "2026-12", "2027-01-01"),
        ):
            result = runner.invoke(args=["jobs", "run", job, "--period", period])
            assert result.exit_code != 0, job
            assert f"{period} 尚未结束，最早可于 {first} 运行此任务。" in result.output, job
    assert db.session.scalar(select(func.count()).select_from(Assessment)) == 0
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 0


def test_the_scheduled_run_opens_the_period_that_ended_the_day_before(world: World) -> None:
    with clock.frozen(datetime(2026, 7, 1, 1, 0)):
        run_job("open_l1")
        run_job("open_l2")
        run_job("open_l3")
    assert _opened("L1", "2026-06") == 3
    assert _opened("L2", "2026-Q2") == 3
    assert _opened("L3", "2026-H1") == 2


@pytest.mark.parametrize(("job", "level", "period", "last", "role"), CASES, ids=IDS)
def test_the_opening_service_refuses_the_last_day_and_opens_the_day_after(
    world: World, job: str, level: str, period: str, last: date, role: str
) -> None:
    with clock.frozen(_last_minute(last)), pytest.raises(AssessmentError) as refused:
        open_assessments(level, period)
    assert str(refused.value).startswith(f"{period} 尚未结束，最早可于 ")
    assert refused.value.status == 409
    assert _opened(level, period) == 0
    with clock.frozen(_first_minute_after(last)):
        result = open_assessments(level, period)
    assert result.created


@pytest.mark.parametrize(("job", "level", "period", "last", "role"), CASES, ids=IDS)
def test_the_open_form_refuses_the_last_day_in_chinese_and_opens_the_day_after(
    app: Flask,
    world: World,
    job: str,
    level: str,
    period: str,
    last: date,
    role: str,
    auth: AuthActions,
) -> None:
    with clock.frozen(_last_minute(last)):
        client = auth.client_for(world.user(role))
        token = csrf_token(client, "/assessments/")
        refused = client.post(
            "/assessments/open",
            data={"csrf_token": token, "level": level, "period": period},
            follow_redirects=True,
        )
    assert refused.status_code == 200
    html = refused.get_data(as_text=True)
    assert f"{period} 尚未结束，最早可于 {(last + timedelta(days=1)).isoformat()}" in html
    assert _opened(level, period) == 0
    with clock.frozen(_first_minute_after(last)):
        allowed = client.post(
            "/assessments/open", data={"csrf_token": token, "level": level, "period": period}
        )
    assert allowed.status_code == 302
    assert _opened(level, period) > 0


def test_the_spot_check_draw_refuses_the_last_day_and_draws_the_day_after(world: World) -> None:
    last = date(2026, 12, 31)
    with clock.frozen(_last_minute(last)), pytest.raises(AssessmentError) as refused:
        draw_l4_spot_check(2026, seed=7)
    assert str(refused.value) == _refusal("2026", last, "抽取市级抽查机构")
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 0
    with clock.frozen(_first_minute_after(last)):
        draw = draw_l4_spot_check(2026, seed=7)
    assert draw.year == 2026 and any(item.selected for item in draw.items)
    assert _opened("L4S", "2026") > 0


def test_the_draw_job_refuses_the_last_day_and_draws_the_day_after(
    app: Flask, world: World
) -> None:
    runner = app.test_cli_runner()
    last = date(2026, 12, 31)
    with clock.frozen(_last_minute(last)):
        refused = runner.invoke(args=["jobs", "run", "draw_l4_sample", "--period", "2026"])
    assert refused.exit_code != 0 and _refusal("2026", last, "运行此任务") in refused.output
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 0
    with clock.frozen(_first_minute_after(last)):
        allowed = runner.invoke(args=["jobs", "run", "draw_l4_sample", "--period", "2026"])
    assert allowed.exit_code == 0, allowed.output
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 1


def test_the_draw_page_refuses_the_last_day_in_chinese_and_draws_the_day_after(
    app: Flask, world: World, auth: AuthActions
) -> None:
    last = date(2026, 12, 31)
    with clock.frozen(_last_minute(last)):
        client = auth.client_for(world.user("city"))
        token = csrf_token(client, "/assessments/l4/2026")
        refused = client.post(
            "/assessments/l4/2026/draw", data={"csrf_token": token}, follow_redirects=True
        )
    assert refused.status_code == 200
    assert _refusal("2026", last, "抽取市级抽查机构") in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 0
    with clock.frozen(_first_minute_after(last)):
        allowed = client.post("/assessments/l4/2026/draw", data={"csrf_token": token})
    assert allowed.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SpotCheckDraw)) == 1
