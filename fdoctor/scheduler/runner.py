"""The one scheduler process: APScheduler with its job store in the app's database.

``flask scheduler run`` builds a ``BlockingScheduler`` whose jobs (one per
``job_schedule.SCHEDULE`` entry, cron triggers in Asia/Shanghai) are kept in the table
``apscheduler_jobs`` of the app's own database, created by APScheduler itself. Web workers never
start a scheduler: only this command does, so each job runs once however many gunicorn workers
there are.
"""

from __future__ import annotations

from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from assessments.job_schedule import SCHEDULE, SCHEDULE_TIMEZONE
from fdoctor.extensions import db
from fdoctor.scheduler.jobs import set_app

JOBSTORE_TABLE = "apscheduler_jobs"
JOB_FUNCTION = "fdoctor.scheduler.jobs:scheduled_job"
# A run missed while the process was down still happens within a day of its time (once: coalesce);
# older misses are left to `flask jobs run`, which repairs any period since every job is idempotent.
MISFIRE_GRACE_SECONDS = 24 * 3600


def build_scheduler(
    app: Any, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> BaseScheduler:
    """A scheduler with the database job store and every SCHEDULE job registered (not started)."""
    set_app(app)
    with app.app_context():
        engine = db.engine
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone=SCHEDULE_TIMEZONE,
    )
    for job in SCHEDULE:
        scheduler.add_job(
            JOB_FUNCTION,
            CronTrigger(**job.cron_fields(), timezone=SCHEDULE_TIMEZONE),
            args=[job.name],
            id=job.name,
            name=job.description_zh,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    scheduler.add_listener(lambda _event: prune_stale_jobs(scheduler), EVENT_SCHEDULER_STARTED)
    return scheduler


def prune_stale_jobs(scheduler: BaseScheduler) -> list[str]:
    """Remove stored jobs that are no longer in SCHEDULE (a renamed or dropped job)."""
    wanted = {job.name for job in SCHEDULE}
    stale = [job.id for job in scheduler.get_jobs() if job.id not in wanted]
    for job_id in stale:
        scheduler.remove_job(job_id)
    return stale
