"""Scheduled jobs: each idempotent, runnable by hand for a past period; overdue flags."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.assessments import steps
from fdoctor.assessments.models import (
    Assessment,
    AssessmentItem,
    Notification,
    Rectification,
    SpotCheckDraw,
    SpotCheckDrawItem,
    WorkloadReport,
    WorkloadReportRow,
)
from fdoctor.assessments.opening import open_assessments
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.scheduler.jobs import JOBS, JobError, plan, run_job, scheduled_run_date
from tests.factories.assessments import TODAY, World, score_all_manual
from tests.factories.contracts import make_contract
from tests.factories.households import make_household

pytestmark = pytest.mark.db

TABLES = (
    Assessment,
    AssessmentItem,
    Notification,
    Rectification,
    SpotCheckDraw,
    SpotCheckDrawItem,
    WorkloadReport,
    WorkloadReportRow,
)


def _snapshot() -> dict[str, object]:
    """Row counts and the mutable columns the jobs write."""
    counts: dict[str, object] = {
        m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in TABLES
    }
    counts["overdue"] = sorted(
        db.session.scalars(
            select(Assessment.overdue_since).where(Assessment.overdue_since.is_not(None))
        )
    )
    counts["contracts"] = sorted(db.session.execute(select(Contract.id, Contract.status)).all())
    counts["members"] = sorted(
        db.session.execute(select(ContractMember.id, ContractMember.is_active)).all()
    )
    return counts


@pytest.mark.parametrize(
    ("name", "period"),
    [
        ("open_l1", "2026-03"),
        ("remind_l1", "2026-03"),
        ("flag_overdue", "2026-03"),
        ("open_l2", "2026-Q1"),
        ("open_l3", "2025-H2"),
        ("open_l4", "2025"),
        ("draw_l4_sample", "2025"),
        ("workload_report", "2026-03"),
    ],
)
def test_running_a_period_job_twice_changes_nothing_the_second_time(
    world: World, name: str, period: str
) -> None:
    if name in ("remind_l1", "flag_overdue"):
        run_job("open_l1", period="2026-03")
    # flag_overdue acts on its run day (the 6th): it may run only once that day has come.
    on_run_day = clock.frozen(date(2026, 4, 6)) if name == "flag_overdue" else nullcontext()
    with on_run_day:
        first = run_job(name, period=period)
        after_first = _snapshot()
        second = run_job(name, period=period)
    assert _snapshot() == after_first
    assert second.created == 0 and second.updated == 0
    if name not in ("flag_overdue",):
        assert first.created > 0, first


def test_contract_expiry_twice_on_the_same_day_changes_nothing(world: World) -> None:
    ending = make_household(world.tree.team2, members=2)
    make_contract(ending, None, date(2025, 4, 1), date(2026, 3, 31))
    soon = make_household(world.tree.team2, members=2)
    make_contract(soon, None, date(2025, 4, 20), date(2026, 4, 19))
    db.session.commit()
    first = run_job("contract_expiry", day=date(2026, 4, 2))
    after_first = _snapshot()
    second = run_job("contract_expiry", day=date(2026, 4, 2))
    assert _snapshot() == after_first
    assert (first.created, first.updated) == (1, 1) and (second.created, second.updated) == (0, 0)


def test_a_day_job_for_a_later_day_is_refused_and_changes_nothing(world: World) -> None:
    """The clock says 2026-04-02: expiring on 2026-05-01 would end a contract still running."""
    ending = make_household(world.tree.team2, members=2)
    contract = make_contract(ending, None, date(2025, 4, 20), date(2026, 4, 19))
    db.session.commit()
    before = _snapshot()
    with pytest.raises(JobError, match="不能为将来的日期 2026-05-01"):
        run_job("contract_expiry", day=date(2026, 5, 1))
    with pytest.raises(JobError, match="不能为将来的日期"):
        plan("flag_overdue", day=date(2026, 4, 3))
    with pytest.raises(JobError, match="运行日 2026-04-06 尚未到来"):
        plan("flag_overdue", "2026-03")
    assert _snapshot() == before
    assert contract.status == "active"
    assert plan("contract_expiry", day=date(2026, 4, 2)).today == date(2026, 4, 2)


def test_contract_expiry_expires_past_contracts_and_frees_their_members(world: World) -> None:
    ending = make_household(world.tree.team2, members=2)
    contract = make_contract(ending, None, date(2025, 4, 1), date(2026, 3, 31))
    db.session.commit()
    run_job("contract_expiry", day=date(2026, 4, 1))
    assert contract.status == "expired"
    assert not any(m.is_active for m in contract.members)
    # The world's own contract ends in 2027: nothing to remind of yet.
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_a_job_run_by_hand_for_a_past_period_runs_on_its_scheduled_day(world: World) -> None:
    with clock.frozen(date(2026, 7, 1)):
        _plans_on_the_scheduled_day()


def _plans_on_the_scheduled_day() -> None:
    assert scheduled_run_date("open_l1", plan("open_l1", "2026-03").period) == date(2026, 4, 1)  # type: ignore[arg-type]
    assert plan("flag_overdue", "2026-03").today == date(2026, 4, 6)
    assert plan("open_l4", "2025").today == date(2026, 1, 1)
    assert plan("open_l3", "2026-H1").today == date(2026, 7, 1)
    assert plan("remind_l1", day=date(2026, 5, 3)).period is not None
    assert str(plan("remind_l1", day=date(2026, 5, 3)).period) == "2026-04"


def test_job_arguments_are_checked_in_chinese(world: World) -> None:
    with pytest.raises(JobError, match="未知的定时任务"):
        plan("open_l9")
    with pytest.raises(JobError, match="需要季度周期"):
        plan("open_l2", "2026-03")
    with pytest.raises(JobError, match="按日运行"):
        plan("contract_expiry", "2026-03")


def test_every_scheduled_job_has_a_function() -> None:
    from assessments.job_schedule import SCHEDULE

    assert set(JOBS) == {job.name for job in SCHEDULE}


def test_flag_overdue_marks_unsubmitted_assessments_and_late_rectifications(world: World) -> None:
    open_assessments("L1", "2026-03")
    submitted = db.session.scalar(
        select(Assessment).where(
            Assessment.unit_id == world.tree.team2.id, Assessment.level == "L1"
        )
    )
    score_all_manual(submitted, world.user("leader2"))
    steps.submit(submitted, world.user("leader2"))
    db.session.commit()
    with clock.frozen(datetime(2026, 4, 5, 23, 0)):
        assert (
            run_job("flag_overdue", day=date(2026, 4, 5)).updated == 0
        )  # due date itself is on time
    with clock.frozen(datetime(2026, 4, 6, 1, 0)):
        outcome = run_job("flag_overdue", day=date(2026, 4, 6))
    late = db.session.scalars(select(Assessment).where(Assessment.overdue_since.is_not(None))).all()
    assert {a.unit_id for a in late} == {world.tree.team.id, world.tree.other_team.id}
    assert all(a.overdue_since == date(2026, 4, 6) for a in late)
    assert submitted.overdue_since is None and outcome.updated == 2
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert kinds.count("assessment_overdue") == 2


def test_flag_overdue_marks_a_rectification_past_its_deadline(world: World) -> None:
    from decimal import Decimal

    open_assessments("L2", "2026-Q1")
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L2", Assessment.unit_id == world.tree.team.id)
    )
    score_all_manual(a, world.user("centre"), {"A4": Decimal(0)})
    steps.submit(a, world.user("centre"))
    steps.publish(a, world.user("centre"), today=TODAY)
    steps.acknowledge(a, world.user("leader"), today=TODAY)
    db.session.commit()
    rect = db.session.scalar(select(Rectification).where(Rectification.code == "A4"))
    with clock.frozen(rect.deadline):
        run_job("flag_overdue", day=rect.deadline)
    assert rect.overdue_since is None
    with clock.frozen(date(2026, 5, 6)):
        run_job("flag_overdue", day=date(2026, 5, 6))
    assert rect.overdue_since == date(2026, 5, 3)
    note = db.session.scalar(
        select(Notification).where(Notification.kind == "rectification_overdue")
    )
    assert note is not None and note.unit_id == world.tree.team.id


def test_remind_l1_notifies_each_team_with_an_unsubmitted_self_check(world: World) -> None:
    run_job("open_l1", period="2026-03")
    run_job("remind_l1", period="2026-03")
    notes = db.session.scalars(select(Notification).where(Notification.kind == "remind_l1")).all()
    assert {n.unit_id for n in notes} == {
        world.tree.team.id,
        world.tree.team2.id,
        world.tree.other_team.id,
    }
    assert all("2026年3月月度自查尚未提交" in n.message for n in notes)


def test_workload_report_counts_services_per_team_and_type(world: World) -> None:
    run_job("workload_report", period="2026-03")
    report = db.session.scalar(
        select(WorkloadReport).where(WorkloadReport.county_id == world.tree.county.id)
    )
    assert report is not None and report.total == 3
    assert [(r.team_id, r.service_type, r.count) for r in report.rows] == [
        (world.tree.team.id, "consultation", 3)
    ]
    empty = db.session.scalar(
        select(WorkloadReport).where(WorkloadReport.county_id == world.tree.other_county.id)
    )
    assert empty is not None and empty.total == 0


def test_flask_jobs_run_command_runs_a_past_period(world: World, app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "open_l1", "--period", "2026-02"])
    assert result.exit_code == 0, result.output
    assert "周期 2026-02" in result.output and "新增 3 条" in result.output
    assert (
        db.session.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.period == "2026-02")
        )
        == 3
    )
    listed = runner.invoke(args=["jobs", "list"])
    assert "open_l1" in listed.output and "workload_report" in listed.output
    bad = runner.invoke(args=["jobs", "run", "open_l2", "--period", "2026-02"])
    assert bad.exit_code != 0 and "需要季度周期" in bad.output
