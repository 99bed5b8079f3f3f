"""The resident's confirmation page on a phone, opened from a receipt's link; and the reviewer
queue where the denied visit lands (screenshots of both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.confirm.links import make_token
from fdoctor.confirm.services import VISIT_DAYS
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from tests.browser.conftest import browser_login, screenshot

PHONE = {"width": 390, "height": 844}


def _resident_with_visits(app: Flask) -> tuple[str, int]:
    """A link for a demo resident of the ``centre`` login's institution who has recent unverified
    visits under a contract."""
    with app.app_context():
        centre = db.session.scalar(select(User).where(User.username == "centre"))
        assert centre is not None
        since = clock.today() - timedelta(days=VISIT_DAYS)
        row = db.session.execute(
            select(ServiceRecord.contract_id, ServiceRecord.resident_id)
            .join(ContractMember, ContractMember.resident_id == ServiceRecord.resident_id)
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(
                ServiceRecord.contract_id == Contract.id,
                ServiceRecord.service_date >= since,
                ServiceRecord.verification == "unverified",
                Contract.status == "active",
                ServiceRecord.institution_id == centre.org_unit_id,
            )
            .order_by(ServiceRecord.id.desc())
            .limit(1)
        ).first()
        assert row is not None, "the demo city has no recent visit under a contract"
        token = make_token(row[0], row[1], clock.today() + timedelta(days=30))
        return token, row[1]


def test_a_resident_denies_a_visit_on_a_phone_and_it_reaches_the_review_queue(
    browser: Any, demo_app: Flask, live_demo: str
) -> None:
    token, resident_id = _resident_with_visits(demo_app)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live_demo}/r/{token}")
        visits = phone.locator("fieldset.visit")
        assert visits.count() >= 1
        denied = visits.first.get_attribute("data-record")
        for i in range(visits.count()):
            value = "not_received" if i == 0 else "received"
            visits.nth(i).locator(f"input[value={value}]").check()
        phone.check("#knows-yes")
        phone.check("#grade-80")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(phone, "resident-confirm-phone")
        phone.click("#answer-form button[type=submit]")
        phone.wait_for_selector("#answer-done")
    finally:
        context.close()
    with demo_app.app_context():
        record = db.session.get(ServiceRecord, int(denied or 0))
        assert record is not None and record.verification == "disputed"
        assert record.resident_id == resident_id
    reviewer = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        pg = reviewer.new_page()
        browser_login(pg, live_demo, "centre")
        pg.goto(f"{live_demo}/services/{denied}")
        assert "存疑" in pg.inner_text("main, body")
        pg.goto(f"{live_demo}/surveys/review")
        assert pg.locator("form.review-form").count() >= 1
        screenshot(pg, "review-queue-desktop")
    finally:
        reviewer.close()
