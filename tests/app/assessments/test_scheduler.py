"""The scheduler process registers exactly the SCHEDULE jobs in the database job store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import inspect

from assessments.job_schedule import SCHEDULE
from fdoctor.extensions import db
from fdoctor.scheduler.runner import JOB_FUNCTION, JOBSTORE_TABLE, build_scheduler

pytestmark = pytest.mark.db


@pytest.fixture()
def paused(app: Flask) -> Iterator[BackgroundScheduler]:
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    yield scheduler
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    store = SQLAlchemyJobStore(engine=db.engine, tablename=JOBSTORE_TABLE)
    store.jobs_t.drop(db.engine, checkfirst=True)


def test_the_scheduler_stores_exactly_the_schedule_jobs_in_the_app_database(
    paused: BackgroundScheduler,
) -> None:
    assert JOBSTORE_TABLE in inspect(db.engine).get_table_names()
    stored = {job.id: job for job in paused.get_jobs()}
    assert set(stored) == {job.name for job in SCHEDULE}
    for spec in SCHEDULE:
        job = stored[spec.name]
        assert job.func_ref == JOB_FUNCTION and job.args == (spec.name,)
        assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Asia/Shanghai"
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (
            fields["day"] == spec.day
            and fields["hour"] == str(spec.hour)
            and fields["month"] == spec.month
        )
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 24 * 3600


def test_starting_again_replaces_the_jobs_and_drops_stale_ones(
    app: Flask, paused: BackgroundScheduler
) -> None:
    paused.add_job(
        JOB_FUNCTION, CronTrigger(day="9", timezone="Asia/Shanghai"), args=["gone"], id="gone"
    )
    paused.shutdown(wait=False)
    again = build_scheduler(app, BackgroundScheduler)
    again.start(paused=True)
    try:
        assert {job.id for job in again.get_jobs()} == {job.name for job in SCHEDULE}
    finally:
        again.shutdown(wait=False)
    paused.start(paused=True)  # for the fixture's clean-up


def test_the_stored_job_function_runs_the_job_for_today_in_its_own_app_context(
    app: Flask, world: object
) -> None:
    from sqlalchemy import func, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.scheduler.jobs import scheduled_job, set_app

    set_app(app)
    try:
        scheduled_job("open_l1")  # the world's clock is 2 April 2026: March is opened
    finally:
        set_app(None)
    opened = db.session.scalar(
        select(func.count()).select_from(Assessment).where(Assessment.period == "2026-03")
    )
    assert opened == 3
