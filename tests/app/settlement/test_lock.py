"""The database itself refuses to change a locked settlement (SQLite and PostgreSQL triggers)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fdoctor.auth.models import User
from fdoctor.core.triggers import install_triggers
from fdoctor.extensions import db
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import SettlementLine
from fdoctor.settlement.triggers import GUARDS
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _sheet(lock: bool) -> Any:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    if lock:
        for action, user in (("review", city), ("approve", finance), ("lock", finance)):
            transition(settlement, action, user)
            db.session.commit()
    return settlement


@pytest.fixture()
def locked(app: Flask) -> Any:
    return _sheet(lock=True)


def _refused(sql: str, **params: Any) -> str:
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(text(sql), params)
        db.session.flush()
    db.session.rollback()
    return str(caught.value)


def test_raw_update_of_a_locked_settlement_is_refused(locked: Any) -> None:
    message = _refused("UPDATE settlement SET total_fen = 1 WHERE id = :id", id=locked.id)
    assert "settlement is locked" in message
    assert db.session.get(type(locked), locked.id).total_fen == 1_500_000


def test_raw_update_cannot_unlock_a_settlement(locked: Any) -> None:
    _refused("UPDATE settlement SET status = 'draft' WHERE id = :id", id=locked.id)
    assert (
        db.session.scalar(text("SELECT status FROM settlement WHERE id = :id"), {"id": locked.id})
        == "locked"
    )


def test_raw_delete_of_a_locked_settlement_is_refused(locked: Any) -> None:
    _refused("DELETE FROM settlement_line WHERE settlement_id = :id", id=locked.id)
    _refused("DELETE FROM settlement WHERE id = :id", id=locked.id)
    assert (
        db.session.scalar(
            text("SELECT count(*) FROM settlement_line WHERE settlement_id = :id"),
            {"id": locked.id},
        )
        > 0
    )


def test_raw_update_of_a_locked_settlements_line_is_refused(locked: Any) -> None:
    message = _refused(
        "UPDATE settlement_line SET entitled_fen = entitled_fen + 1 WHERE settlement_id = :id",
        id=locked.id,
    )
    assert "settlement is locked" in message


def test_a_line_cannot_be_added_to_a_locked_settlement(locked: Any) -> None:
    _refused(
        "INSERT INTO settlement_line (settlement_id, position, key, level, name, explanation) "
        "VALUES (:id, 999, 'extra', 'pool', '新增', '{}')",
        id=locked.id,
    )


def test_the_orm_cannot_change_a_locked_settlement_either(locked: Any) -> None:
    line = db.session.scalar(
        db.select(SettlementLine).where(SettlementLine.settlement_id == locked.id).limit(1)
    )
    line.entitled_fen = 0
    with pytest.raises(DBAPIError):
        db.session.commit()
    db.session.rollback()


def test_a_draft_stays_writable(app: Flask) -> None:
    draft = _sheet(lock=False)
    db.session.execute(text("UPDATE settlement SET total_fen = 7 WHERE id = :id"), {"id": draft.id})
    db.session.commit()
    assert (
        db.session.scalar(text("SELECT total_fen FROM settlement WHERE id = :id"), {"id": draft.id})
        == 7
    )


def test_installing_the_triggers_again_is_harmless(locked: Any) -> None:
    with db.engine.begin() as conn:
        install_triggers(conn, GUARDS)
        install_triggers(conn, GUARDS)
    _refused("DELETE FROM settlement WHERE id = :id", id=locked.id)


def test_a_draft_cannot_be_locked_with_raw_sql(app: Flask) -> None:
    draft = _sheet(lock=False)
    message = _refused("UPDATE settlement SET status = 'locked' WHERE id = :id", id=draft.id)
    assert "须经审核、批准后才能锁定" in message
    assert (
        db.session.scalar(text("SELECT status FROM settlement WHERE id = :id"), {"id": draft.id})
        == "draft"
    )


def test_an_approved_sheet_is_locked_only_with_who_and_when(app: Flask) -> None:
    sheet = _sheet(lock=False)
    city = db.session.scalar(db.select(User).where(User.username == "city-user"))
    finance = db.session.scalar(db.select(User).where(User.username == "finance-user"))
    for action, user in (("review", city), ("approve", finance)):
        transition(sheet, action, user)
        db.session.commit()
    message = _refused("UPDATE settlement SET status = 'locked' WHERE id = :id", id=sheet.id)
    assert "须经审核、批准后才能锁定" in message
    transition(sheet, "lock", finance)  # the app's own lock records both
    db.session.commit()
    assert sheet.status == "locked"


def test_member_ratings_of_a_locked_year_are_frozen(locked: Any) -> None:
    assert db.session.scalar(
        text("SELECT count(*) FROM member_rating WHERE year = :y"), {"y": YEAR}
    )
    message = _refused("UPDATE member_rating SET a = 0.5 WHERE year = :y", y=YEAR)
    assert "成员系数不能修改" in message
    _refused("DELETE FROM member_rating WHERE year = :y", y=YEAR)
    # Another year's ratings are not the locked sheet's.
    db.session.execute(text("UPDATE member_rating SET a = a WHERE year = :y"), {"y": YEAR + 1})


def test_one_statement_over_a_locked_sheets_lines_is_refused_whole(locked: Any) -> None:
    """On PostgreSQL the line guard runs once per statement over the rows it changed (the build
    writes a sheet's lines with one COPY): a statement touching locked lines is refused whole."""
    ids = list(
        db.session.scalars(
            text("SELECT id FROM settlement_line WHERE settlement_id = :id ORDER BY id"),
            {"id": locked.id},
        )
    )
    before = db.session.scalar(
        text("SELECT sum(entitled_fen) FROM settlement_line WHERE settlement_id = :id"),
        {"id": locked.id},
    )
    # One statement over many rows, the first of them a locked line: nothing changes.
    _refused(
        "UPDATE settlement_line SET entitled_fen = entitled_fen + 1 WHERE id IN :ids".replace(
            ":ids", "(" + ",".join(str(i) for i in ids) + ")"
        )
    )
    assert (
        db.session.scalar(
            text("SELECT sum(entitled_fen) FROM settlement_line WHERE settlement_id = :id"),
            {"id": locked.id},
        )
        == before
    )
    if db.engine.dialect.name == "postgresql":
        kinds = dict(
            db.session.execute(
                text(
                    "SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger "
                    "WHERE tgrelid = 'settlement_line'::regclass AND NOT tgisinternal"
                )
            ).all()
        )
        # Three statement triggers (insert, update, delete), no row trigger.
        assert kinds == {
            "trg_settlement_line_locked_insert": False,
            "trg_settlement_line_locked_update": False,
            "trg_settlement_line_locked_delete": False,
        }
