"""A sheet's inputs and outputs enter the audit trail as their SHA-256 (``fdoctor.audit.tables.DIGESTED``).

At city scale each is megabytes of canonical JSON and the sheet's row is written several times
in one build; the trail holds ``sha256:<hex>`` of each instead, and ``flask audit verify`` still
names a sheet whose inputs or outputs were changed behind the app. Entries written before the
columns were digested (they hold the whole text) still verify.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select, update

from fdoctor.audit import snapshots
from fdoctor.audit.models import AuditEntry
from fdoctor.audit.verify import verify
from fdoctor.extensions import db
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.models import Settlement
from tests.factories.settlement import YEAR

pytestmark = pytest.mark.db


def _entries(settlement: Settlement) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(AuditEntry.after)
        .where(AuditEntry.table_name == "settlement", AuditEntry.row_id == str(settlement.id))
        .order_by(AuditEntry.id)
    )
    return [json.loads(after) for after in rows if after is not None]


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_trail_holds_the_digests_of_the_inputs_and_outputs(world: Any) -> None:
    known = verify(db.session).problems
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    entries = _entries(settlement)
    assert entries
    assert len(settlement.inputs_json) > 1000
    for after in entries:
        assert after["inputs_json"] == _sha(settlement.inputs_json)
        assert after["outputs_json"] == _sha(settlement.outputs_json)
        assert after["sha256"] == settlement.sha256
    assert verify(db.session).problems == known


def test_verify_names_inputs_changed_behind_the_app(world: Any) -> None:
    known = verify(db.session).problems
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    padded = settlement.inputs_json.replace('"signed_population":', '"signed_population": ', 1)
    assert padded != settlement.inputs_json
    db.session.execute(
        update(Settlement).where(Settlement.id == settlement.id).values(inputs_json=padded)
    )
    db.session.commit()
    problems = [p for p in verify(db.session).problems if p not in known]
    assert problems == [f"settlement 第 {settlement.id} 行被绕过系统修改（与审计记录不符）"]


def test_entries_written_with_the_whole_text_still_verify(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = verify(db.session).problems
    # As before the columns were digested: the entries hold the whole JSON texts.
    monkeypatch.setattr(snapshots, "DIGESTED", {})
    settlement, _changed = build_settlement(YEAR, "settlement", None)
    db.session.commit()
    assert _entries(settlement)[-1]["inputs_json"] == settlement.inputs_json
    monkeypatch.undo()
    assert verify(db.session).problems == known
    # …and a change behind the app is still named against such an entry.
    db.session.execute(
        update(Settlement)
        .where(Settlement.id == settlement.id)
        .values(outputs_json=settlement.outputs_json + " ")
    )
    db.session.commit()
    problems = [p for p in verify(db.session).problems if p not in known]
    assert problems == [f"settlement 第 {settlement.id} 行被绕过系统修改（与审计记录不符）"]
