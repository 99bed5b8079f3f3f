"""The assessment pages open where the user's work is: the latest period that can be judged."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from fdoctor.assessments.models import Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.core import clock
from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.assessments import PERIOD, World

pytestmark = pytest.mark.db

TODAY = date(2026, 4, 2)  # March (L1), 2026-Q1 (L2), 2025-H2 (L3) and 2025 (L4) have ended


def _options(html: str, select_id: str) -> list[str]:
    body = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert body, f"no select #{select_id}"
    return re.findall(r'<option value="([^"]*)"', body.group(1))


def _table(html: str) -> str:
    found = re.search(r'<table[^>]*id="assessment-table".*?</table>', html, re.S)
    assert found
    return found.group(0)


@pytest.mark.parametrize(
    ("user", "level", "latest", "offered"),
    [
        ("leader", "L1", "2026-03", 12),
        ("centre", "L2", "2026-Q1", 8),
        ("county", "L3", "2025-H2", 4),
        ("city", "L4", "2025", 3),
    ],
)
def test_the_open_form_offers_only_the_role_level_and_ended_periods(
    app: Flask, world: World, user: str, level: str, latest: str, offered: int, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        html = auth.client_for(world.user(user)).get("/assessments/").get_data(as_text=True)
    assert _options(html, "open-level") == [level]
    periods = _options(html, "open-period")
    assert periods[0] == latest and len(periods) == offered
    assert "2026-04" not in periods and "2026-Q2" not in periods and "2026-H1" not in periods
    assert f'<option value="{latest}" selected>' in html


def test_a_bare_visit_opens_on_the_latest_judgeable_period_of_the_role(
    app: Flask, world: World, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        open_assessments("L1", PERIOD)
        open_assessments("L1", "2026-02")
        open_assessments("L2", "2026-Q1")
        db.session.commit()
        leader = auth.client_for(world.user("leader"))
        html = leader.get("/assessments/").get_data(as_text=True)
        table = _table(html)
        assert "2026-03" in table and "2026-02" not in table
        assert "最近一个已结束、可考核的周期" in html
        # The filter shows what is applied; clearing it lists every period.
        assert 'id="f-period" value="2026-03"' in html
        everything = _table(leader.get("/assessments/?level=&period=").get_data(as_text=True))
        assert "2026-02" in everything and "2026-03" in everything
        centre = auth.client_for(world.user("centre"))
        centre_table = _table(centre.get("/assessments/").get_data(as_text=True))
        assert "2026-Q1" in centre_table and "2026-03" not in centre_table


def test_an_empty_period_says_why_in_chinese(app: Flask, world: World, auth: AuthActions) -> None:
    with clock.frozen(TODAY):
        county = auth.client_for(world.user("county"))
        html = county.get("/assessments/").get_data(as_text=True)
        empty = re.search(r'id="assessment-empty">(.*?)<', html)
        assert empty and empty.group(1) == (
            "2025年下半年（年终）的三级考核 · 半年/年终考核尚未开启。"
            "该周期已结束，可在上方「开启考核」中选择它开启。"
        )
        not_ended = county.get("/assessments/?level=L3&period=2026-H1").get_data(as_text=True)
        assert "2026年上半年尚未结束，2026-07-01 起方可开启三级考核" in not_ended
        wrong_kind = county.get("/assessments/?level=L3&period=2026-Q1").get_data(as_text=True)
        assert "不按「2026年第1季度」考核" in wrong_kind
        leader = auth.client_for(world.user("leader"))
        html = leader.get("/assessments/?level=L2&period=2026-Q1").get_data(as_text=True)
        assert "尚未开启。开启后将在此列出。" in html  # a leader cannot open L2


def test_a_period_offered_by_the_form_opens(app: Flask, world: World, auth: AuthActions) -> None:
    with clock.frozen(TODAY):
        client = auth.client_for(world.user("centre"))
        html = client.get("/assessments/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert token
        period = _options(html, "open-period")[0]
        response = client.post(
            "/assessments/open",
            data={"csrf_token": token.group(1), "level": "L2", "period": period},
        )
    assert response.status_code == 302
    opened = db.session.scalars(select(Assessment.period).where(Assessment.level == "L2")).all()
    assert opened and set(opened) == {"2026-Q1"}


@pytest.mark.parametrize(
    ("user", "period", "label"),
    [
        ("centre", "2026-Q1", "2026年第1季度"),
        ("county", "2025-H2", "2025年下半年（年终）"),
        ("city", "2025", "2025年度"),
    ],
)
def test_an_empty_dashboard_opens_on_the_latest_judgeable_period_with_a_message(
    app: Flask, world: World, user: str, period: str, label: str, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        html = (
            auth.client_for(world.user(user)).get("/assessments/dashboard").get_data(as_text=True)
        )
    note = re.search(r'id="dashboard-note">(.*?)<', html)
    assert note and note.group(1).startswith(f"{label}的") and "尚未开启" in note.group(1)
    assert f'<option value="{period}" selected>' in html
    assert "（尚无考核）" not in html


def test_a_dashboard_prefers_the_latest_period_and_says_when_it_is_not_opened(
    app: Flask, world: World, auth: AuthActions
) -> None:
    with clock.frozen(date(2026, 3, 2)):
        open_assessments("L1", "2026-02")
        db.session.commit()
    with clock.frozen(TODAY):
        client = auth.client_for(world.user("centre"))
        older = client.get("/assessments/dashboard").get_data(as_text=True)
        # Only L1 exists: the centre sees its teams' February, told March is not opened yet.
        assert "月度自查 2026-02" in older
        assert "最近一个已结束的周期 2026-03 的一级考核 · 月度自查尚未开启" in older
        open_assessments("L1", PERIOD)
        db.session.commit()
        latest = client.get("/assessments/dashboard").get_data(as_text=True)
        assert "月度自查 2026-03" in latest and 'id="dashboard-note"' not in latest
        assert '<option value="2026-02"' in latest  # earlier periods stay one click away
