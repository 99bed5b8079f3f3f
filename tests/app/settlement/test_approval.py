"""Approval: draft → reviewed (city) → approved (finance) → locked (finance), and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from fdoctor.extensions import db
from fdoctor.settlement.approval import allowed_actions, transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.errors import SettlementStateError
from fdoctor.settlement.queries import integrity_ok
from tests.factories.assessments import supersede
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture()
def sheet(app: Flask) -> dict[str, Any]:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    return {"world": world, "settlement": settlement, "city": city, "finance": finance}


def _walk(sheet: dict[str, Any], *steps: tuple[str, str]) -> None:
    for action, who in steps:
        transition(sheet["settlement"], action, sheet[who])
        db.session.commit()


def test_city_reviews_then_finance_approves_and_locks(sheet: dict[str, Any]) -> None:
    _walk(sheet, ("review", "city"), ("approve", "finance"), ("lock", "finance"))
    settlement = sheet["settlement"]
    assert settlement.status == "locked"
    assert settlement.reviewed_by_id == sheet["city"].id
    assert settlement.approved_by_id == settlement.locked_by_id == sheet["finance"].id
    assert settlement.locked_at is not None


def test_finance_may_not_review(sheet: dict[str, Any]) -> None:
    with pytest.raises(SettlementStateError, match="只有市卫健委可以审核通过"):
        transition(sheet["settlement"], "review", sheet["finance"])


def test_the_city_may_not_approve_or_lock(sheet: dict[str, Any]) -> None:
    _walk(sheet, ("review", "city"))
    with pytest.raises(SettlementStateError, match="只有市财政局可以批准"):
        transition(sheet["settlement"], "approve", sheet["city"])


def test_a_draft_cannot_be_locked_or_approved(sheet: dict[str, Any]) -> None:
    with pytest.raises(
        SettlementStateError,
        match="当前状态为「草稿」，不能锁定（须先经市卫健委审核、市财政局批准）",
    ):
        transition(sheet["settlement"], "lock", sheet["finance"])
    with pytest.raises(SettlementStateError, match="不能批准（须先由市卫健委审核）"):
        transition(sheet["settlement"], "approve", sheet["finance"])
    assert sheet["settlement"].status == "draft"


def test_a_locked_sheet_refuses_every_action(sheet: dict[str, Any]) -> None:
    _walk(sheet, ("review", "city"), ("approve", "finance"), ("lock", "finance"))
    for action in ("review", "approve", "lock", "return"):
        with pytest.raises(SettlementStateError, match="已锁定"):
            transition(sheet["settlement"], action, sheet["finance"])


def test_a_locked_sheet_cannot_be_recomputed(sheet: dict[str, Any]) -> None:
    _walk(sheet, ("review", "city"), ("approve", "finance"), ("lock", "finance"))
    with pytest.raises(SettlementStateError, match="已锁定，不能重新计算"):
        build_settlement(YEAR, "settlement", sheet["city"])


def test_a_reviewed_sheet_is_recomputed_only_after_returning_to_draft(
    sheet: dict[str, Any],
) -> None:
    _walk(sheet, ("review", "city"))
    with pytest.raises(SettlementStateError, match="请先退回草稿"):
        build_settlement(YEAR, "settlement", sheet["city"])
    _walk(sheet, ("return", "city"))
    assert sheet["settlement"].status == "draft" and sheet["settlement"].reviewed_at is None
    _settlement, changed = build_settlement(YEAR, "settlement", sheet["city"])
    assert not changed


def test_only_finance_returns_an_approved_sheet(sheet: dict[str, Any]) -> None:
    _walk(sheet, ("review", "city"), ("approve", "finance"))
    assert [a.name for a in allowed_actions(sheet["settlement"], sheet["city"])] == []
    with pytest.raises(SettlementStateError, match="只有市财政局可以退回草稿"):
        transition(sheet["settlement"], "return", sheet["city"])
    assert [a.name for a in allowed_actions(sheet["settlement"], sheet["finance"])] == [
        "lock",
        "return",
    ]


def test_review_refuses_a_draft_whose_inputs_changed_since_it_was_computed(
    sheet: dict[str, Any],
) -> None:
    world = sheet["world"]
    supersede(world.assessments["L4 丙县"], world["丙县"], "86")
    db.session.commit()
    with pytest.raises(SettlementStateError, match="请先重新计算草稿再审核"):
        transition(sheet["settlement"], "review", sheet["city"])


def test_a_sheet_whose_stored_figures_were_altered_is_refused(sheet: dict[str, Any]) -> None:
    settlement = sheet["settlement"]
    altered = settlement.outputs_json.replace('"entitled_fen":669421', '"entitled_fen":669420', 1)
    assert altered != settlement.outputs_json
    db.session.execute(
        text("UPDATE settlement SET outputs_json = :o WHERE id = :id"),
        {"o": altered, "id": settlement.id},
    )
    db.session.commit()
    db.session.refresh(settlement)
    assert not integrity_ok(settlement)
    with pytest.raises(SettlementStateError, match="SHA-256 与内容不符"):
        transition(settlement, "review", sheet["city"])


def test_an_unknown_action_is_refused(sheet: dict[str, Any]) -> None:
    with pytest.raises(SettlementStateError, match="未知操作"):
        transition(sheet["settlement"], "publish", sheet["city"])
