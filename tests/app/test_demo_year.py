"""The demo city after living through its last completed year: every role sees real work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.assessments.models import Appeal, Assessment, Rectification, SpotCheckDraw
from fdoctor.audit.verify import verify
from fdoctor.core import clock
from fdoctor.demo.dates import history_start, settled_year
from fdoctor.demo.generator import load_demo
from fdoctor.demo.year import LIVED_SCALES, live_through, lived_periods
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.settlement.models import PoolFund, Settlement, SettlementLine
from fdoctor.surveys.models import VerificationSample
from tests.conftest import DEMO_SEED, AuthActions, TestDatabase, create_schema, csrf_token, make_app

pytestmark = pytest.mark.db

# Late in a year, as `flask demo load` run today would be: the records start on 1 January of
# last year, so 2025 is lived through whole (L4 and its locked settlement) and 2026 up to now.
ANCHOR = date(2026, 12, 6)


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


def test_lived_periods_cover_last_year_whole_and_this_year_so_far() -> None:
    assert history_start(ANCHOR) == date(2025, 1, 1) and settled_year(ANCHOR) == 2025
    periods = {k: [str(p) for p in v] for k, v in lived_periods(ANCHOR).items()}
    assert periods["L1"] == [f"2025-{m:02d}" for m in range(1, 13)] + [
        f"2026-{m:02d}" for m in range(1, 12)
    ]
    assert periods["L2"] == [f"2025-Q{q}" for q in range(1, 5)] + ["2026-Q1", "2026-Q2", "2026-Q3"]
    assert periods["L3"] == ["2025-H1", "2025-H2", "2026-H1"]
    assert periods["L4"] == ["2025"]
    # In the first fortnight of January last year's settlement is not due yet: the records
    # reach back to the year before, whose settlement is locked.
    assert history_start(date(2027, 1, 10)) == date(2025, 1, 1)
    early = {k: [str(p) for p in v] for k, v in lived_periods(date(2027, 1, 10)).items()}
    assert early["L4"] == ["2025", "2026"]
    assert history_start(date(2027, 1, 15)) == date(2026, 1, 1)
    assert LIVED_SCALES == ("demo",)


def test_the_records_reach_back_to_the_first_of_january(year_app: Flask) -> None:
    with year_app.app_context():
        first, last = db.session.execute(
            select(func.min(ServiceRecord.service_date), func.max(ServiceRecord.service_date))
        ).one()
        assert first == date(2025, 1, 1) or (first - date(2025, 1, 1)).days <= 3
        assert last < ANCHOR
        # Residents were signed all through 2025, not only at its end.
        january = db.session.scalar(
            select(func.count(ServiceRecord.id)).where(
                ServiceRecord.type == "consultation",
                ServiceRecord.service_date < date(2025, 2, 1),
            )
        )
        december = db.session.scalar(
            select(func.count(ServiceRecord.id)).where(
                ServiceRecord.type == "consultation",
                ServiceRecord.service_date >= date(2025, 12, 1),
                ServiceRecord.service_date < date(2026, 1, 1),
            )
        )
        assert january > december / 2


def test_last_year_is_published_at_every_level(year_app: Flask) -> None:
    with year_app.app_context():
        published = set(
            db.session.execute(
                select(Assessment.level, Assessment.period)
                .where(
                    Assessment.is_current.is_(True),
                    Assessment.status.in_(("published", "acknowledged")),
                    Assessment.period.like("2025%"),
                )
                .distinct()
            ).all()
        )
    expected = {("L1", f"2025-{m:02d}") for m in range(1, 13)}
    expected |= {("L2", f"2025-Q{q}") for q in range(1, 5)}
    expected |= {("L3", "2025-H1"), ("L3", "2025-H2"), ("L4", "2025"), ("L4S", "2025")}
    assert published == expected


def test_last_year_is_settled_and_locked_and_its_lines_add_up_to_the_funds(
    year_app: Flask,
) -> None:
    with year_app.app_context():
        sheets = set(
            db.session.execute(select(Settlement.year, Settlement.kind, Settlement.status))
        )
        assert sheets == {
            (2025, "preallocation", "locked"),
            (2025, "settlement", "locked"),
            (2026, "preallocation", "reviewed"),
        }
        sheet = db.session.scalar(
            select(Settlement).where(Settlement.year == 2025, Settlement.kind == "settlement")
        )
        assert sheet is not None
        funds = db.session.scalar(select(func.sum(PoolFund.fund_fen)).where(PoolFund.year == 2025))
        by_level = dict(
            db.session.execute(
                select(SettlementLine.level, func.sum(SettlementLine.entitled_fen))
                .where(SettlementLine.settlement_id == sheet.id)
                .group_by(SettlementLine.level)
            ).all()
        )
        assert funds and sheet.total_fen == funds
        for level in ("pool", "county", "institution"):
            assert by_level[level] == funds, level
        # Leaders are outside the team split (seed 4): each institution sets their 5% management
        # share aside and splits it over its leaders; its teams share the rest.
        assert by_level["management"] > 0
        assert by_level["team"] + by_level["management"] == funds
        assert by_level["leader"] == by_level["management"]
        assert by_level["member"] + by_level["reserve"] == by_level["team"]
        # The year's pre-allocation was locked before, and the settlement counts it.
        preallocated = db.session.scalar(
            select(func.sum(SettlementLine.preallocated_fen)).where(
                SettlementLine.settlement_id == sheet.id, SettlementLine.level == "county"
            )
        )
        assert preallocated and 0 < preallocated < funds


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
                Assessment.period == "2025-12",
                Assessment.opened_at < date(2026, 1, 1),
            )
        )
        assert early == 0
        assert not db.session.scalar(
            select(func.count(Assessment.id)).where(Assessment.period == "2026-12")
        )
        decisions = db.session.scalars(select(Appeal)).all()
        for year in ("2025", "2026"):  # each year: one appeal accepted, one rejected
            outcomes = {
                item.decision
                for appeal in decisions
                if appeal.assessment.period.startswith(year)
                for item in appeal.items
            }
            assert {"accepted", "rejected"} <= outcomes, year
        superseded = db.session.scalar(
            select(func.count(Assessment.id)).where(Assessment.status == "superseded")
        )
        assert superseded >= 1
        statuses = set(db.session.scalars(select(Rectification.status).distinct()))
        assert {"open", "verified"} <= statuses
        assert db.session.scalar(select(func.count(VerificationSample.id))) > 0
        assert db.session.scalar(select(func.count(PoolFund.id))) > 0
        rectified_2025 = db.session.scalar(
            select(func.count(Rectification.id))
            .join(Assessment, Rectification.assessment_id == Assessment.id)
            .where(Assessment.period.like("2025%"), Rectification.status == "verified")
        )
        assert rectified_2025 > 0
        periods = set(db.session.scalars(select(VerificationSample.period).distinct()))
        assert {"2025-Q1", "2025-Q4", "2026-Q3"} <= periods


def test_finance_can_approve_lock_and_export(year_app: Flask) -> None:
    with year_app.app_context():
        sheet = db.session.scalar(select(Settlement).where(Settlement.year == ANCHOR.year))
        assert sheet is not None and sheet.kind == "preallocation"
        assert sheet.status == "reviewed"
        sheet_id = sheet.id
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        AuthActions(client).login("finance")
        page = client.get(f"/settlement/{sheet_id}")
        assert page.status_code == 200
        assert "批准" in page.get_data(as_text=True)


@pytest.mark.parametrize("username", ["county", "city", "finance", "centre", "leader"])
def test_home_pages_show_work(year_app: Flask, username: str) -> None:
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        AuthActions(client).login(username)
        home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "尚无考核" not in home.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "period"), [("county", "2026-H1"), ("city", "2025"), ("centre", "2026-Q3")]
)
def test_dashboards_show_results(year_app: Flask, username: str, period: str) -> None:
    client = year_app.test_client()
    with clock.frozen(ANCHOR):
        AuthActions(client).login(username)
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
        AuthActions(client).login("finance")
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
