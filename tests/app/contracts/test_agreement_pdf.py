"""The agreement PDF: Chinese text, two copies, masked IDs, packages, term and signature lines."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from fdoctor.contracts.models import Contract
from fdoctor.contracts.services import agreement_data
from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.reports.agreement import (
    AgreementData,
    AgreementMember,
    AgreementPackage,
    build_agreement_pdf,
)
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _contract(world: World) -> Contract:
    elderly = world.packages["ELDERLY"].id
    return world.sign("h1", ["elder", "wife"], 2, packages={elderly: 1})


def test_agreement_is_in_chinese_with_both_copies(world: World) -> None:
    text = _text(build_agreement_pdf(agreement_data(_contract(world))))
    assert text.count("家庭医生签约服务协议书") == 2
    assert "第一联 居民留存联" in text and "第二联 机构留存联" in text


def test_each_copy_starts_on_a_new_page(world: World) -> None:
    reader = PdfReader(io.BytesIO(build_agreement_pdf(agreement_data(_contract(world)))))
    first_pages = [p.extract_text() for p in reader.pages if "协议书" in (p.extract_text() or "")]
    assert len(first_pages) == 2
    assert "居民留存联" in first_pages[0] and "机构留存联" in first_pages[1]


def test_agreement_shows_masked_ids_only(world: World) -> None:
    text = _text(build_agreement_pdf(agreement_data(_contract(world))))
    elder = world.people["elder"]
    assert cid.mask(elder.citizen_id) in text
    assert elder.citizen_id not in text


def test_agreement_lists_members_packages_fees_and_term(world: World) -> None:
    contract = _contract(world)
    text = _text(build_agreement_pdf(agreement_data(contract)))
    assert "张建国" in text and "李秀英" in text
    assert "老年人个性化包" in text and "基础包" in text
    assert "80.00" in text  # 1 person × 80 yuan a year
    assert "服务期内共计 160.00 元" in text  # two years
    assert "自 2026年3月10日 起至 2028年3月9日 止，共 2 年" in text
    assert contract.code in text


def test_agreement_has_signature_lines_for_both_sides(world: World) -> None:
    text = _text(build_agreement_pdf(agreement_data(_contract(world))))
    assert text.count("甲方家庭医生（签字）") == 2
    assert text.count("乙方签约居民或代理人（签字）") == 2
    assert "签约机构（盖章）" in text


def test_markup_characters_in_an_address_are_printed_as_text() -> None:
    data = AgreementData(
        code="QY1",
        institution="东街<社区>卫生服务中心",
        team="一队",
        doctor="王医生",
        household_code="H1",
        address="东街1号 & 2号",
        signed_on=date(2026, 3, 10),
        start=date(2026, 3, 10),
        end=date(2027, 3, 9),
        years=1,
        first_contact=True,
        members=[AgreementMember("甲", "男", 70, "4100**********1234", "65岁及以上老年人")],
        packages=[AgreementPackage("基础包", "基础包", 0, 0, "免费")],
    )
    text = _text(build_agreement_pdf(data))
    assert "东街1号 & 2号" in text and "东街<社区>卫生服务中心" in text


def test_agreement_route_serves_the_pdf(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    contract = _contract(world)
    db.session.commit()
    auth.login_as(world.users["doctor"])
    response = client.get(f"/contracts/{contract.id}/agreement.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "居民留存联" in _text(response.data)
