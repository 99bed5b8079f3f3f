"""The demo city after living through its last completed periods: every role sees real work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.assessments.models import Appeal, Assessment, Rectification, SpotCheckDraw
from fdoctor.audit.services import verify
from fdoctor.core import clock
from fdoctor.demo.generator import load_demo
from fdoctor.demo.year import LIVED_SCALES, live_through, lived_periods
from fdoctor.extensions import db
from fdoctor.settlement.models import PoolFund, Settlement
from fdoctor.surveys.models import VerificationSample
from tests.conftest import DEMO_SEED, TestDatabase, create_schema, csrf_token, login, make_app

pytestmark = pytest.mark.db

# Early in a year: the records (the 365 days before the anchor) cover the whole of the last one.
ANCHOR = date(2027, 1, 20)


@pytest.fixture(scope="module")
def year_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The demo city loaded and lived through once for the module."""
    database = TestDatabase("demo_year", tmp_path_factory.mktemp("demo_year"))
    database.create()
    app = make_app(database.url)
    create_schema(app)
    with app.app_context():
        load_demo(seed=DEMO_SEED, anchor=ANCHOR)
        live_through(DEMO_SEED, ANCHOR)
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    database.drop()


def test_lived_periods_follow_the_records() -> None:
    periods = {k: [str(p) for p in v] for k, v in lived_periods(ANCHOR).items()}
    # Records cover 2026-01-20 … 2027-01-19: January and 2026-Q1 are not covered enough.
    assert periods["L1"][0] == "2026-02" and periods["L1"][-1] == "2026-12"
    assert periods["L2"] == ["2026-Q2", "2026-Q3", "2026-Q4"]
    assert periods["L3"] == ["2026-H1", "2026-H2"]
    assert periods["L4"] == ["2026"]
    # Late in a year the last one is not covered: no L4, only this year's ended periods.
    late = {k: [str(p) for p in v] for k, v in lived_periods(date(2026, 11, 20)).items()}
    assert late["L1"][0] == "2025-12" and late["L1"][-1] == "2026-10"
    assert late["L3"] == ["2026-H1"] and late["L4"] == []
    assert LIVED_SCALES == ("demo",)


def test_assessments_published_appealed_and_rectified(year_app: Flask) -> None:
    with year_app.app_context():
        counts = dict(
            db.session.execute(
                select(Assessment.level, func.count(Assessment.id))
                .where(
                    Assessment.is_current.is_(True),
                    Assessment.status.in_(("published", "acknowledged")),
                )
                .group_by(Assessment.level)
            ).all()
        )
        assert all(counts.get(level, 0) > 0 for level in ("L1", "L2", "L3", "L4", "L4S"))
        assert db.session.scalar(select(func.count(SpotCheckDraw.id))) == 1
        # Opened only after the period ended (the clock was frozen on the working days).
        early = db.session.scalar(
            select(func.count(Assessment.id)).where(
                Assessment.level == "L1",
                Assessment.period == "2026-12",
                Assessment.opened_at < date(2027, 1, 1),
            )
        )
        assert early == 0
        decisions = db.session.scalars(select(Appeal)).all()
        outcomes = {item.decision for appeal in decisions for item in appeal.items}
        assert {"accepted", "rejected"} <= outcomes
        superseded = db.session.scalar(
            select(func.count(Assessment.id)).where(Assessment.status == "superseded")
        )
        assert superseded >= 1
        statuses = set(db.session.scalars(select(Rectification.status).distinct()))
        assert {"open", "verified"} <= statuses
        assert db.session.scalar(select(func.count(VerificationSample.id))) > 0
        assert db.session.scalar(select(func.count(PoolFund.id))) > 0
        sheets = db.session.execute(select(Settlement.year, Settlement.kind, Settlement.status))
        assert set(sheets) == {
            (2026, "settlement", "locked"),
            (2027, "preallocation", "reviewed"),
        }


def test_finance_can_approve_lock_and_export(year_app: Flask) -> None:
    with year_app.app_context():
        sheet = db.session.scalar(select(Settlement).where(Settlement.year == ANCHOR.year))
        assert sheet is not None and sheet.kind == "preallocation"
        assert sheet.status == "reviewed"
        sheet_id = sheet.id
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        login(client, "finance")
        page = client.get(f"/settlement/{sheet_id}")
        assert page.status_code == 200
        assert "批准" in page.get_data(as_text=True)


@pytest.mark.parametrize("username", ["county", "city", "finance", "centre", "leader"])
def test_home_pages_show_work(year_app: Flask, username: str) -> None:
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        login(client, username)
        home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "尚无考核" not in home.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "period"), [("county", "2026-H2"), ("city", "2026"), ("centre", "2026-")]
)
def test_dashboards_show_results(year_app: Flask, username: str, period: str) -> None:
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        login(client, username)
        page = client.get("/assessments/dashboard", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "尚无考核" not in html and "未开启" not in html
    assert period in html


def test_audit_trail_is_clean(year_app: Flask) -> None:
    with year_app.app_context():
        result = verify(db.session)
        assert not result.problems, result.problems[:5]


def test_finance_approves_and_locks(year_app: Flask) -> None:
    """Last in the module: it changes the sheet."""
    with year_app.app_context():
        sheet_id = db.session.scalar(select(Settlement.id).where(Settlement.year == ANCHOR.year))
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        login(client, "finance")
        for action in ("approve", "lock"):
            token = csrf_token(client, f"/settlement/{sheet_id}")
            client.post(
                f"/settlement/{sheet_id}/transition",
                data={"action": action, "csrf_token": token},
            )
        export = client.get(f"/settlement/{sheet_id}/export/settlement.xlsx")
    with year_app.app_context():
        assert db.session.get(Settlement, sheet_id).status == "locked"
    assert export.status_code == 200
