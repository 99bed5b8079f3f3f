"""A locked settlement sheet carries the audit chain's anchor (its end, noted when it was locked)."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from fdoctor.audit.models import AuditCheckpoint, AuditEntry
from fdoctor.audit.verify import verify
from fdoctor.extensions import db
from fdoctor.reports.settlement_sheet import build_settlement_pdf, build_settlement_xlsx
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.sheet import sheet_data
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user

pytestmark = pytest.mark.db


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_locking_notes_a_checkpoint_and_the_sheet_prints_it(app: Flask) -> None:
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    finance = make_user("finance-user", "finance", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    db.session.commit()
    draft = sheet_data(settlement, "settlement", city)
    assert draft.audit_anchor == "" and "审计链锚点" not in _pdf_text(build_settlement_pdf(draft))
    for action, user in (("review", city), ("approve", finance), ("lock", finance)):
        transition(settlement, action, user)
        db.session.commit()
    checkpoint = db.session.scalars(select(AuditCheckpoint)).one()
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last is not None and checkpoint.last_id == last.id  # the lock's own entry included
    line = f"审计链锚点: #{last.id} {last.hash[:16]}"
    sheet = sheet_data(settlement, "settlement", finance)
    assert sheet.audit_anchor == line
    assert line in _pdf_text(build_settlement_pdf(sheet)).replace("\n", " ")
    cells = [c.value for row in load_workbook(io.BytesIO(build_settlement_xlsx(sheet))).active
             .iter_rows() for c in row]  # fmt: skip
    assert line in cells
    assert verify(db.session, anchors=[line]).ok, verify(db.session, anchors=[line]).problems
