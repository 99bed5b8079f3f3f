"""User text in PDFs is text, never markup: a reason, a resident's name or a unit's name holding
``<b>``, ``<a href>`` or ``<img src>`` prints as typed, with no link and no embedded file, and the
PDF is built (no 500). Covers the assessment sheet end to end and every other PDF builder."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from fdoctor.assessments.models import Assessment
from fdoctor.assessments.opening import open_assessments
from fdoctor.extensions import db
from fdoctor.reports.agreement import (
    AgreementData,
    AgreementMember,
    AgreementPackage,
    build_agreement_pdf,
)
from fdoctor.reports.settlement_sheet import (
    TEXT,
    Column,
    Group,
    Sheet,
    build_distribution_pdf,
    build_settlement_pdf,
)
from tests.conftest import AuthActions, csrf_token
from tests.factories.assessments import PERIOD, World

BOLD = "<b>粗体</b>"
LINK = '<a href="http://phish.example/login">请点此处登录</a>'
IMAGE = '<img src="/etc/hostname" width="100" height="100"/>'
PAYLOADS = [BOLD, LINK, IMAGE]


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_plain_pdf(pdf: bytes, *literals: str) -> None:
    """The PDF shows every literal as typed and has no link annotation and no image."""
    reader = PdfReader(io.BytesIO(pdf))
    text = _compact("".join(page.extract_text() for page in reader.pages))
    for literal in literals:
        assert _compact(literal) in text, literal
    for page in reader.pages:
        assert "/Annots" not in page, "a link annotation was added"
        assert not page.images, "an image was embedded"


# --- the assessment sheet, through the pages ----------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_an_assessment_reason_prints_as_text(
    app: Flask, world: World, payload: str, auth: AuthActions
) -> None:
    open_assessments("L1", PERIOD)
    db.session.commit()
    a = db.session.scalar(
        select(Assessment).where(Assessment.level == "L1", Assessment.unit_id == world.tree.team.id)
    )
    assert a is not None
    client = auth.client_for(world.user("leader"))
    page = f"/assessments/{a.id}"
    token = csrf_token(client, page)
    form = {"csrf_token": token}
    for item in a.items:
        if item.source == "manual":
            form[f"points-{item.code}"] = str(item.max_points)
            form[f"reason-{item.code}"] = ""
    form["points-A4"], form["reason-A4"] = "2", payload
    assert client.post(f"{page}/score", data=form).status_code == 302
    world.tree.team.name = f"东街一队{BOLD}"
    db.session.commit()
    response = client.get(f"{page}/sheet.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert_plain_pdf(response.data, payload, BOLD)


# --- every other PDF builder -------------------------------------------------------------


def _agreement(payload: str) -> AgreementData:
    return AgreementData(
        code="QY4100012026000001",
        institution=f"甲区东街社区卫生服务中心{payload}",
        team="东街一队",
        doctor="李医生",
        household_code="H-T1-001",
        address=f"幸福小区{payload}",
        signed_on=date(2026, 3, 10),
        start=date(2026, 3, 10),
        end=date(2027, 3, 9),
        years=1,
        first_contact=True,
        members=[AgreementMember(f"张{payload}", "男", 70, "4100**********1234", payload)],
        packages=[AgreementPackage(f"基础包{payload}", "基础", 0, 0, payload)],
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_a_resident_name_or_address_prints_as_text_in_the_agreement(
    payload: str,
) -> None:
    pdf = build_agreement_pdf(_agreement(payload))
    assert_plain_pdf(pdf, f"幸福小区{payload}", f"基础包{payload}")


def _sheet(payload: str) -> Sheet:
    columns = [Column("单位", TEXT, 60), Column("说明", TEXT, 80)]
    return Sheet(
        title=f"结算表{payload}",
        subtitle="2026年",
        columns=columns,
        groups=[
            Group(
                title=f"甲区{payload}",
                rows=[[f"东街社区卫生服务中心{payload}", payload]],
                note=payload,
            )
        ],
        sha256="0" * 64,
        status_label="草稿",
        notes=[payload],
    )


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("build", [build_settlement_pdf, build_distribution_pdf])
def test_markup_in_a_unit_name_prints_as_text_in_the_settlement_sheets(
    payload: str, build: object
) -> None:
    pdf = build(_sheet(payload))  # type: ignore[operator]
    assert_plain_pdf(pdf, f"甲区{payload}", f"东街社区卫生服务中心{payload}")


def test_control_characters_in_user_text_do_not_break_a_pdf() -> None:
    pdf = build_agreement_pdf(_agreement("前\x00\x07\x1b后"))
    assert_plain_pdf(pdf, "幸福小区前")


def test_no_report_builds_a_paragraph_from_raw_text() -> None:
    """Every paragraph goes through ``fdoctor.reports.pdf.paragraph``, the one escaping helper."""
    from pathlib import Path

    import fdoctor

    root = Path(fdoctor.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "pdf.py" and re.search(r"\bParagraph\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
