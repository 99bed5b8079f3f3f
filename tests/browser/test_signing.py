"""Signing a household in real Chromium: choose members and a package, see the contract and the
agreement download."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from fdoctor.contracts.models import Contract
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from tests.browser.conftest import browser_login, screenshot
from tests.factories.contracts import World, world  # noqa: F401 - world is a fixture
from tests.factories.users import PASSWORD


def test_doctor_signs_a_household_and_gets_the_agreement(
    page: Any,
    live_server: str,
    world: World,  # noqa: F811
) -> None:
    h1 = world.households["h1"]
    elder, wife = world.people["elder"], world.people["wife"]
    elderly = world.packages["ELDERLY"].id
    browser_login(page, live_server, "doc1", PASSWORD)
    page.goto(f"{live_server}/households/{h1.id}")
    page.click("#sign-household")
    page.wait_for_selector("#sign-form")
    page.check(f"input[name='members'][value='{elder.id}']")
    page.check(f"input[name='members'][value='{wife.id}']")
    assert "1至3年" in page.inner_text("#term-hint")  # 张建国 is 70: key population
    page.check(f"#packages-{elderly}")
    page.fill(f"#persons_{elderly}", "1")
    assert page.inner_text("#fee-total") == "80.00"
    page.select_option("#years", "2")
    page.check("#first_contact")
    screenshot(page, "contract-sign-form")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/contracts/\d+$"))
    code = page.inner_text("#contract-code")
    assert re.fullmatch(r"QY4100012026\d{5}", code)
    assert "签约成功" in page.inner_text("main")
    members = page.inner_text("#contract-members")
    assert "张建国" in members and "李秀英" in members
    link = page.locator("#agreement-link")
    assert link.is_visible()
    pdf = page.request.get(live_server + link.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    screenshot(page, "contract-signed")
    # Script and CSP errors only: resource statuses (the browser's favicon.ico 404) are expected.
    assert [e for e in page.console_errors if "Failed to load resource" not in e] == []
    saved = db.session.scalar(select(Contract).where(Contract.code == code))
    assert saved is not None and saved.status == "active"


def test_doctor_registers_a_household_through_the_grid_cascade(
    page: Any,
    live_server: str,
    world: World,  # noqa: F811
) -> None:
    browser_login(page, live_server, "doc1", PASSWORD)
    page.goto(f"{live_server}/households/new")
    # The cascade replaces the long select: area, then community, then building.
    assert page.is_visible("#grid-area") and not page.is_visible("#grid_cell_id")
    page.select_option("#grid-area", label="东街片区")
    page.select_option("#grid-community", label="幸福小区")
    page.select_option("#grid-building", label="幸福小区1号楼")
    assert page.input_value("#grid_cell_id") == str(world.cells["B1"].id)
    page.select_option("#grid-community", label="东关村")  # a village without buildings
    assert not page.is_visible("#grid-building")
    assert page.input_value("#grid_cell_id") == str(world.cells["C2"].id)
    page.fill("#address", "东关村30号")
    page.fill("#phone", "13700000001")
    screenshot(page, "household-new")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/households/\d+$"))
    assert "已建档" in page.inner_text("main")
    assert "东关村30号" in page.inner_text("main")
    # Add the head: the birth date, sex and age appear as the ID is typed.
    page.click("#add-resident")
    page.fill("#name", "马国庆")
    page.fill("#citizen_id", cid.make("410001", date(1949, 10, 1), 515))
    # The preview is written by the page's script after the input event: wait for it.
    page.wait_for_function(
        "() => document.querySelector('#id-derived').innerText.startsWith('出生日期')"
    )
    assert page.inner_text("#id-derived") == "出生日期 1949-10-01，男，76岁"
    assert "text-bg-info" in (page.get_attribute("#derived-elderly65", "class") or "")
    page.check("input[name='tags'][value='hypertension']")
    screenshot(page, "resident-new")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/households/\d+$"))
    assert "马国庆" in page.inner_text("#member-table")
    assert [e for e in page.console_errors if "Failed to load resource" not in e] == []
