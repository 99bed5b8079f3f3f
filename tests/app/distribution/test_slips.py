"""Every member sees their own pay: the slip of each locked year with the amount, each factor and
its explanation, the team's list once published, and the PDF — and nobody else's slip."""

from __future__ import annotations

import io
import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from assessments.cascade import settle
from assessments.cascade.steps import line_steps
from fdoctor.auth.models import User
from fdoctor.distribution import services
from fdoctor.distribution.slips import factor_rows
from fdoctor.extensions import db
from fdoctor.settlement.approval import transition
from fdoctor.settlement.cascade import settlement_inputs
from fdoctor.settlement.models import SettlementLine
from tests.app.distribution.conftest import Locked, lock_sheet
from tests.conftest import AuthActions
from tests.factories.settlement import build_world

pytestmark = pytest.mark.db


def _line(locked: Locked, key: str) -> SettlementLine:
    line = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.settlement_id == locked.sheet.id,
            SettlementLine.user_id == locked.world.users[key].id,
            SettlementLine.level == "member",
        )
    )
    assert line is not None
    return line


def _publish(locked: Locked) -> None:
    distribution = services.propose(locked.sheet, locked.world["T1"], locked.leader, "")
    services.confirm(distribution, locked.nurse, "")
    db.session.commit()


def test_a_member_sees_their_slip_with_each_factor_explained(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    line = _line(locked, "T1N")
    auth.login_as("t1-nurse")
    index = client.get("/distribution/slips").get_data(as_text=True)
    assert f"/distribution/slips/{line.id}" in index and "2026 年度" in index
    html = client.get(f"/distribution/slips/{line.id}").get_data(as_text=True)
    assert f"{line.entitled_fen // 100:,}.{line.entitled_fen % 100:02d}" in html
    # The nurse's factors as the sheet computed them: 6 workload points of a standard of 8
    # (nurses), y 1.0 (护士), c 1.2 by the leader and a 0.9 from the attendance days.
    for label, value in (
        ("工作量达标系数 k", "0.75"),
        ("k 的计算依据", "工作量点数"),
        ("工作量点数", "6"),
        ("标准工作量点数", "8"),
        ("岗位系数 y", "1"),
        ("个人绩效考评系数 c", "1.2"),
        ("出勤系数 a", "0.9"),
        ("岗位", "护士"),
    ):
        assert (
            f'<span class="fw-semibold">{label}</span><span class="text-nowrap">{value}</span>'
            in html
        ), label
    assert "病假、事假、产假、工休假、婚假的天数不计奖金" in html
    assert "rating_id" not in html
    # Before the 公示 the team's list is not shown, not even the leader's amount.
    assert 'id="team-list-hidden"' in html and "t1-leader" not in html


def test_the_team_list_shows_once_published(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    _publish(locked)
    line, leader_line = _line(locked, "T1N"), _line(locked, "T1L")
    auth.login_as("t1-nurse")
    html = client.get(f"/distribution/slips/{line.id}").get_data(as_text=True)
    assert 'id="team-list"' in html and "t1-leader" in html and "部门基金" in html
    assert f"{leader_line.entitled_fen // 100:,}.{leader_line.entitled_fen % 100:02d}" in html
    assert "t2-nurse" not in html  # another team's member


def test_another_members_slip_is_not_found(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    _publish(locked)
    leaders = _line(locked, "T1L")
    other_team = _line(locked, "T2N")
    auth.login_as("t1-nurse")
    for line in (leaders, other_team):
        assert client.get(f"/distribution/slips/{line.id}").status_code == 404
        assert client.get(f"/distribution/slips/{line.id}.pdf").status_code == 404
    # The team leader sees their own slip, not the nurse's.
    auth.login_as("t1-leader")
    assert client.get(f"/distribution/slips/{leaders.id}").status_code == 200
    assert client.get(f"/distribution/slips/{_line(locked, 'T1N').id}").status_code == 404
    # Other roles have no slips at all.
    auth.login_as("c1-admin")
    assert client.get(f"/distribution/slips/{leaders.id}").status_code == 403


def test_the_slip_pdf_embeds_the_font_and_names_the_member(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    line = _line(locked, "T1N")
    auth.login_as("t1-nurse")
    response = client.get(f"/distribution/slips/{line.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    assert b"WenQuanYiMicroHei" in body  # the CJK font, subset-embedded below
    reader = PdfReader(io.BytesIO(body))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [
        f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        for f in fonts.values()
        if "/DescendantFonts" in f.get_object()
    ] + [
        f.get_object()["/FontDescriptor"].get_object()
        for f in fonts.values()
        if "/FontDescriptor" in f.get_object()
    ]
    assert any("/FontFile2" in d for d in descriptors)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "t1-nurse" in text and "2026年度家庭医生签约服务绩效工资条" in text
    assert "出勤系数 a" in text and "甲一中心团队" in text


def _slip_steps(html: str) -> list[str]:
    listed = re.search(r'<ol[^>]*id="slip-steps">(.*?)</ol>', html, re.S)
    assert listed is not None
    return re.findall(r'<li class="text-break">(.*?)</li>', listed.group(1))


def test_the_slip_shows_the_member_steps_written_from_the_line(
    locked: Locked, client: FlaskClient, auth: AuthActions
) -> None:
    # The sheet stores no member steps: the slip shows those the cascade gives for the line.
    line = _line(locked, "T1N")
    assert "steps" not in json.loads(line.explanation)
    lines = settle(settlement_inputs(json.loads(locked.sheet.inputs_json)))
    live = next(ln for ln in lines if ln.key == line.key)
    auth.login_as("t1-nurse")
    html = client.get(f"/distribution/slips/{line.id}").get_data(as_text=True)
    assert _slip_steps(html) == list(line_steps(live))
    assert "份额 = 0.81 ÷ Σ权重 2.01 = 27/67 ≈ 0.40298507" in _slip_steps(html)
    # The team's figures the steps are written from are no factors of the member's own.
    assert "total_weight" not in html and "distributed_fen" not in html
    pdf = client.get(f"/distribution/slips/{line.id}.pdf").get_data()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "按最大余额法取整" in text and "27/67" in text


def test_the_slip_of_an_older_sheet_shows_its_stored_steps(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    world = build_world()
    sheet = lock_sheet(world, lock=False)
    line = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.settlement_id == sheet.id,
            SettlementLine.user_id == world.users["T1N"].id,
        )
    )
    assert line is not None
    stored = json.loads(line.explanation)
    for key in ("cap", "total_weight", "distributed_fen"):
        del stored["factors"][key]
    stored["steps"] = ["旧版结算表保存的步骤"]
    line.explanation = json.dumps(stored, ensure_ascii=False)
    finance = db.session.scalar(select(User).where(User.username == "finance-user"))
    transition(sheet, "lock", finance)
    db.session.commit()
    auth.login_as("t1-nurse")
    html = client.get(f"/distribution/slips/{line.id}").get_data(as_text=True)
    assert _slip_steps(html) == ["旧版结算表保存的步骤"]


def test_factors_added_later_show_with_labels_or_their_own_name() -> None:
    rows = factor_rows(
        {
            "k": "1.1000",
            "days_due": 250,
            "days_worked": 230,
            "leave_days": {"sick": 20},
            "deduction_points": 3,
            "deducted_fen": 46322,
            "overtime_hours": 12,
            "rating_id": 7,
        }
    )
    shown = {row.key: (row.label, row.value) for row in rows}
    assert shown["k"] == ("工作量达标系数 k", "1.1000")
    assert shown["days_worked"] == ("实际出勤天数", "230")
    assert shown["leave_days"] == ("请假天数", "病假 20")
    assert shown["deduction_points"] == ("扣分", "3")
    assert shown["deducted_fen"] == ("扣款", "463.22 元")
    assert shown["overtime_hours"] == ("overtime_hours", "12")  # unknown: its own name
    assert "rating_id" not in shown
