"""Journeys (用户旅程): each role walks its main job end to end on the demo city in Chromium.

The demo city is loaded into a database of this module's own (the journeys change it: contracts,
records, assessments, a locked sheet) and served with the app's clock and the browser's clock
both frozen a few days after the end of the demo's year. So the periods the journeys judge (the
last month, quarter, half-year and year) ended after the demo's anchor: the demo loader never
touched them, and each journey does the judging itself through the pages (open, score, submit,
publish, appeal, answer), whatever the loader prepared for the periods before. Each journey
leaves screenshots of its key pages at desktop (1280×800) and tablet (1024×768) sizes in
``tests/artifacts/screenshots/journey-*``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from assessments.tiers import Level, period_to_open
from fdoctor.assessments.models import Appeal, Assessment, AssessmentItem
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.settlement.models import Settlement
from tests.browser.conftest import LiveServer, screenshot
from tests.conftest import (
    DEMO_ANCHOR,
    DEMO_PASSWORD,
    DEMO_SEED,
    TestDatabase,
    create_schema,
    make_app,
)

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 1024, "height": 768}
# Early in the year after the demo's anchor, mid-morning, for the server and the browser alike:
# the demo's year has ended, so its settlement year and every level's last period can be judged.
TODAY = date(DEMO_ANCHOR.year + 1, 1, 5)
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 10, 0, 0)
YEAR = DEMO_ANCHOR.year


@dataclass
class Demo:
    app: Flask
    url: str

    def query(self, read: Callable[[], Any]) -> Any:
        """Read the journey's database (fresh, in its own app context)."""
        with self.app.app_context():
            try:
                return read()
            finally:
                db.session.remove()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    from fdoctor.demo.generator import load_demo

    database = TestDatabase("journeys", tmp_path_factory.mktemp("journeys"))
    database.create()
    app = make_app(database.url)
    create_schema(app)
    with app.app_context():
        load_demo(seed=DEMO_SEED, anchor=DEMO_ANCHOR)
        db.session.commit()
        db.session.remove()
    try:
        with clock.frozen(NOW), LiveServer(app) as server:
            yield Demo(app, server.url)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        database.drop()


class Role:
    """One signed-in user in a browser context of their own (the clock on the anchor day)."""

    def __init__(self, browser: Any, demo: Demo, username: str) -> None:
        self.demo = demo
        self.context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
        self.page = self.context.new_page()
        self.page.clock.set_fixed_time(NOW)
        self.errors: list[str] = []
        # Script errors only: a resource that fails to load (the offline tablet's refused
        # uploads, the browser's favicon) is part of the journey, not a page error.
        self.page.on(
            "console",
            lambda m: (
                m.type == "error"
                and "Failed to load resource" not in m.text
                and self.errors.append(m.text)
            ),
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda dialog: dialog.accept())  # the 确定…吗？ confirmations
        self.page.set_default_timeout(15_000)
        self.login(username)

    def login(self, username: str) -> None:
        page = self.page
        page.goto(f"{self.demo.url}/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("#submit")
        assert "/login" not in page.url, page.inner_text("main")

    def go(self, path: str) -> None:
        response = self.page.goto(f"{self.demo.url}{path}")
        assert response is not None and response.ok, f"{path}: {response and response.status}"

    def press(self, selector: str) -> None:
        """Click a button that posts a form and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def main(self) -> str:
        return str(self.page.inner_text("main"))

    def shoot(self, name: str) -> None:
        for size_name, size in (("desktop", DESKTOP), ("tablet", TABLET)):
            self.page.set_viewport_size(size)
            screenshot(self.page, f"journey-{name}-{size_name}")
        self.page.set_viewport_size(DESKTOP)

    def close(self) -> list[str]:
        self.context.close()
        return self.errors


@pytest.fixture()
def as_role(browser: Any, demo: Demo) -> Iterator[Callable[[str], Role]]:
    opened: list[Role] = []

    def sign_in(username: str) -> Role:
        role = Role(browser, demo, username)
        opened.append(role)
        return role

    yield sign_in
    errors = [error for role in opened for error in role.close()]
    assert errors == [], f"script errors on the pages: {errors}"


# --------------------------------------------------------------------------- assessments


def period(level: Level) -> str:
    """The last completed period of a level on the journeys' day: the one judged now."""
    return str(period_to_open(level, TODAY))


def open_and_find(role: Role, level: str, when: str, unit_name: str) -> str:
    """Open the level's assessments for a period from the list page (already open ones are kept)
    and go to the one of ``unit_name``; returns its URL."""
    open_level(role, level, when)
    assert re.search(r"新开启 \d+ 份|已开启|已存在", role.main()), role.main()[:500]
    role.go(f"/assessments/?level={level}&period={when}")
    row = role.page.locator("#assessment-table tbody tr", has_text=unit_name)
    with role.page.expect_navigation():
        row.first.locator("a:has-text('查看')").click()
    return str(role.page.url)


def open_level(role: Role, level: str, when: str) -> None:
    """The list page's "open assessment" form (the period typed, or chosen when offered)."""
    role.go("/assessments/")
    role.page.select_option("#open-level", level)
    field = role.page.locator("#open-period")
    if field.evaluate("element => element.tagName") == "SELECT":
        field.select_option(when)
    else:
        field.fill(when)
    role.press("#open-submit")


def score_manual_items(role: Role, lowered: str | None = None, reason: str = "") -> str:
    """Give every manual indicator its full points (one lowered to half, with a reason) and
    save; returns the lowered indicator's full points."""
    page = role.page
    inputs = page.locator("input.points-input")
    assert inputs.count() >= 1
    for n in range(inputs.count()):
        field = inputs.nth(n)
        field.fill(field.get_attribute("max") or "0")
    top = ""
    if lowered:
        top = page.get_attribute(f"#points-{lowered}", "max") or "0"
        page.fill(f"#points-{lowered}", f"{float(top) / 2:g}")
        page.fill(f"#reason-{lowered}", reason)
    role.press("#btn-save")
    assert "评分已保存" in role.main()
    return top


def advance(role: Role, *steps: tuple[str, str]) -> None:
    for button, status in steps:
        role.press(button)
        assert status in role.page.inner_text("#assessment-status"), role.main()[:400]


def first_manual_code(role: Role) -> str:
    name = role.page.locator("input.points-input").first.get_attribute("name") or ""
    return name.removeprefix("points-")


def unit_of(demo: Demo, username: str) -> tuple[int, str, int | None]:
    """A demo user's unit: id, name and its institution."""

    def read() -> tuple[int, str, int | None]:
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None and user.org_unit is not None
        unit = user.org_unit
        return unit.id, unit.name, unit.institution_id

    return demo.query(read)


# --------------------------------------------------------------------------- the journeys


def test_doctor_finds_a_household_signs_records_offline_and_syncs(
    demo: Demo, as_role: Callable[[str], Role]
) -> None:
    team_id, _, _ = unit_of(demo, "doctor")

    def unsigned_resident() -> tuple[int, str, int]:
        signed = (
            select(ContractMember.resident_id)
            .join(Contract, ContractMember.contract_id == Contract.id)
            .where(Contract.status == "active", ContractMember.is_active)
        )
        resident = db.session.scalar(
            select(Resident)
            .join(Household, Resident.household_id == Household.id)
            .where(Household.team_id == team_id, Resident.status == "active")
            .where(Resident.id.not_in(signed))
            .order_by(Resident.id)
        )
        assert resident is not None, "the demo team has no unsigned resident"
        return resident.id, resident.name, resident.household_id

    resident_id, name, household_id = demo.query(unsigned_resident)
    doctor = as_role("doctor")
    page = doctor.page

    # Find the household by the resident's name.
    doctor.go("/households/")
    page.fill("#resident-search [name='q']", name)
    with page.expect_navigation():
        page.press("#resident-search [name='q']", "Enter")
    row = page.locator("#resident-table tbody tr", has_text=name).first
    with page.expect_navigation():
        row.locator(f"a[href$='/households/{household_id}']").first.click()
    doctor.shoot("doctor-household")

    # Sign the resident (the basic package; the defaults of the form otherwise).
    with page.expect_navigation():
        page.click("#sign-household")
    page.wait_for_selector("#sign-form")
    page.check(f"#members-{resident_id}")
    doctor.shoot("doctor-sign")
    with page.expect_navigation():
        page.click("#sign-form [type=submit]")
    assert re.search(r"/contracts/\d+$", page.url), doctor.main()[:600]
    assert "签约成功" in doctor.main()
    assert name in page.inner_text("#contract-members")

    # The tablet: download the roster, go offline, record a visit, come back and sync.
    doctor.go("/services/tablet")
    page.wait_for_selector("#tablet[data-ready='true']")
    page.wait_for_selector("#snapshot-state:has-text('居民名单')")
    page.wait_for_selector("#tablet[data-sw-state='ready']")
    page.context.route("**/api/v1/**", lambda route: route.abort("internetdisconnected"))
    page.context.set_offline(True)
    page.wait_for_selector("#net-state:has-text('离线')")
    page.fill("#resident-search", name)
    page.click(f".resident-btn:has(.resident-name:text-is('{name}'))")
    page.click(".type-btn[data-type='hypertension_followup']")
    page.fill("#systolic_bp", "132")
    page.fill("#diastolic_bp", "84")
    page.click("#save-record")
    page.wait_for_selector("#queue-count:has-text('待上传 1 条')")
    doctor.shoot("doctor-tablet-offline")
    page.context.unroute("**/api/v1/**")
    page.context.set_offline(False)
    page.wait_for_selector("#queue-count:has-text('待上传 0 条')", timeout=30_000)
    page.wait_for_selector(".queue-item[data-state='done']")
    doctor.shoot("doctor-tablet-synced")

    def stored() -> list[tuple[int | None, int | None]]:
        return [
            (r.systolic_bp, r.diastolic_bp)
            for r in db.session.scalars(
                select(ServiceRecord).where(
                    ServiceRecord.resident_id == resident_id,
                    ServiceRecord.type == "hypertension_followup",
                )
            )
        ]

    assert (132, 84) in demo.query(stored)


def test_team_leader_runs_the_months_self_check(demo: Demo, as_role: Callable[[str], Role]) -> None:
    team_id, team_name, _ = unit_of(demo, "leader")
    month = period(Level.L1)
    leader = as_role("leader")
    open_and_find(leader, "L1", month, team_name)
    code = first_manual_code(leader)
    score_manual_items(leader, code, "签约服务公示栏未按月更新")
    leader.shoot("leader-l1-scored")
    advance(leader, ("#btn-submit", "已提交"), ("#btn-publish", "已公示"),
            ("#btn-acknowledge", "已确认"))  # fmt: skip
    assert "签约服务公示栏未按月更新" in leader.page.inner_text(f"#item-{code}")
    leader.shoot("leader-l1-acknowledged")

    def done() -> tuple[str, Any]:
        row = db.session.scalar(
            select(Assessment).where(
                Assessment.level == "L1", Assessment.period == month, Assessment.unit_id == team_id
            )
        )
        assert row is not None
        return row.status, row.total

    status, total = demo.query(done)
    assert status == "acknowledged" and total is not None


def test_centre_scores_a_quarter_and_answers_an_appeal(
    demo: Demo, as_role: Callable[[str], Role]
) -> None:
    _, team_name, _ = unit_of(demo, "leader")
    quarter = period(Level.L2)
    centre = as_role("centre")
    url = open_and_find(centre, "L2", quarter, team_name)
    code = first_manual_code(centre)
    top = score_manual_items(centre, code, "入户随访记录不完整")
    advance(centre, ("#btn-submit", "已提交"), ("#btn-publish", "已公示"))
    centre.shoot("centre-l2-published")

    # The team leader appeals the lowered indicator.
    leader = as_role("leader")
    leader.page.goto(url)
    leader.page.click("#appeal-box summary")
    leader.page.fill(f"#appeal-reason-{code}", "随访记录已补录，见系统记录")
    leader.page.fill(f"[name='appeal-points-{code}']", top)
    leader.press("#btn-appeal")
    assert "申诉" in leader.main()
    leader.shoot("leader-l2-appealed")

    # The centre accepts it with corrected points: a new revision carries the correction.
    centre.page.goto(url)
    centre.page.select_option(f"#decision-{code}", "accepted")
    centre.page.fill(f"#corrected-{code}", top)
    centre.page.fill(f"#answer-{code}", "核实补录记录属实，采纳")
    centre.press("#btn-answer")
    assert "已答复" in centre.main() and "已生成修订版本" in centre.main()
    centre.shoot("centre-l2-appeal-answered")
    assessment_id = int(url.rstrip("/").rsplit("/", 1)[1])

    def answered() -> tuple[str, Any]:
        appeal = db.session.scalar(select(Appeal).where(Appeal.assessment_id == assessment_id))
        assert appeal is not None and appeal.revision_id is not None
        points = db.session.scalar(
            select(AssessmentItem.points).where(
                AssessmentItem.assessment_id == appeal.revision_id, AssessmentItem.code == code
            )
        )
        return appeal.status, points

    status, points = demo.query(answered)
    assert status == "answered" and points == Decimal(top)


def test_county_scores_an_institutions_half_year(
    demo: Demo, as_role: Callable[[str], Role]
) -> None:
    half = period(Level.L3)

    def institution_name() -> str:
        user = db.session.scalar(select(User).where(User.username == "centre"))
        assert user is not None and user.org_unit is not None
        return str(user.org_unit.name)

    name = demo.query(institution_name)
    county = as_role("county")
    open_and_find(county, "L3", half, name)
    assert county.page.locator("#item-table [id^='drill-']").count() >= 1  # metrics from records
    score_manual_items(county, first_manual_code(county), "家庭医生签约宣传不到位")
    advance(county, ("#btn-submit", "已提交"), ("#btn-publish", "已公示"))
    county.shoot("county-l3-published")


def test_city_draws_the_spot_check_and_opens_the_years_l4(
    demo: Demo, as_role: Callable[[str], Role]
) -> None:
    year = YEAR
    city = as_role("city")
    city.go(f"/assessments/l4/{year}")
    if city.page.locator("#draw-form").count():
        city.page.fill("#draw-form [name='seed']", "20261120")
        city.press("#draw-form [type=submit]")
    assert city.page.inner_text("#draw-check") == "一致"  # the draw replays from its seed
    drawn = city.page.locator("#draw-table tbody tr", has_text="第 1 抽")
    assert drawn.count() >= 1
    city.shoot("city-l4-draw")

    # Score one drawn institution's spot check.
    with city.page.expect_navigation():
        drawn.first.locator("a").first.click()
    if city.page.locator("#score-form").count():
        score_manual_items(city, None)
    advance(city, ("#btn-submit", "已提交"), ("#btn-publish", "已公示"))
    city.shoot("city-l4s-published")

    # Open the counties' L4 of the year and see them listed.
    open_level(city, "L4", str(year))
    city.go(f"/assessments/l4/{year}")
    assert city.page.locator("#l4-table tbody tr a").count() >= 1
    city.shoot("city-l4-counties")


def test_finance_reviews_approves_locks_and_exports_the_years_sheet(
    demo: Demo, as_role: Callable[[str], Role]
) -> None:
    year = YEAR

    def sheet_status() -> str | None:
        sheet = db.session.scalar(
            select(Settlement).where(Settlement.year == year, Settlement.kind == "preallocation")
        )
        return None if sheet is None else sheet.status

    if demo.query(sheet_status) in (None, "draft"):
        # The city enters the year on its one form, computes the draft and passes it on.
        city = as_role("city")
        city.go(f"/settlement/config?year={year}")
        pools = city.page.locator("#funds input[id^='fund_']")
        for n in range(pools.count()):
            if not pools.nth(n).input_value():
                pools.nth(n).fill(f"{(n + 1) * 1_000_000:,}.00")
        city.shoot("city-settlement-config")
        city.press("#year-submit")
        assert f"已保存 {year} 年度结算配置" in city.main(), city.main()[:800]
        city.go(f"/settlement/?year={year}")
        city.press("#status-preallocation form [type=submit]")
        assert re.search(r"/settlement/\d+$", city.page.url), city.main()[:800]
        city.press("#settlement-actions button:has-text('审核通过')")
        assert "已审核" in city.main()

    finance = as_role("finance")
    finance.go(f"/settlement/?year={year}")
    with finance.page.expect_navigation():
        finance.page.click("#status-preallocation a:has-text('查看')")
    sheet_url = finance.page.url
    # Review: open a county's line and its explanation.
    line = finance.page.locator("a[href*='/line/']").first
    with finance.page.expect_navigation():
        line.click()
    assert "元" in finance.main()
    finance.shoot("finance-line")
    finance.page.goto(sheet_url)
    finance.press("#settlement-actions button:has-text('批准')")
    assert "已批准" in finance.main()
    finance.press("#settlement-actions button:has-text('锁定')")
    assert "已锁定" in finance.main()
    finance.shoot("finance-locked")
    assert demo.query(sheet_status) == "locked"

    # Export: the PDF and the workbook download and open.
    with finance.page.expect_download() as pdf_download:
        finance.page.click("a:has-text('PDF')")
    pdf = PdfReader(pdf_download.value.path())
    text = "".join(p.extract_text() for p in pdf.pages)
    assert f"{year}年度" in text and "预拨" in text
    with finance.page.expect_download() as xlsx_download:
        finance.page.click("a:has-text('Excel')")
    with open(xlsx_download.value.path(), "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()))
    cells = [str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c]
    assert any("预拨" in c for c in cells)
