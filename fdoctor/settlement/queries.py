"""Reading stored sheets: a year's sheet, the lines a user may see, a line's family and
explanation, and the check that a sheet's SHA-256 still matches its stored inputs and outputs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from fdoctor.core.scope import get_scoped_or_404, scope_clause
from fdoctor.extensions import db
from fdoctor.settlement.cascade import explanation_steps, sha256_of
from fdoctor.settlement.models import Settlement, SettlementLine


def get_settlement(year: int, kind: str) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(Settlement.year == year, Settlement.kind == kind)
    )


def settlements_by_year() -> list[Settlement]:
    return list(
        db.session.scalars(select(Settlement).order_by(Settlement.year.desc(), Settlement.kind))
    )


def visible_lines(settlement: Settlement, user: Any | None = None) -> list[SettlementLine]:
    """The sheet's lines the user may see, in tree order (one query)."""
    return list(
        db.session.scalars(
            select(SettlementLine)
            .where(
                SettlementLine.settlement_id == settlement.id, scope_clause(SettlementLine, user)
            )
            .order_by(SettlementLine.position)
        )
    )


def get_line_or_404(
    settlement: Settlement, line_id: int, user: Any | None = None
) -> SettlementLine:
    from flask import abort

    line = get_scoped_or_404(SettlementLine, line_id, user)
    if line.settlement_id != settlement.id:
        abort(404)
    return line


def line_family(
    line: SettlementLine, user: Any | None = None
) -> tuple[list[SettlementLine], list[SettlementLine]]:
    """The visible ancestors (top first) and children of a line."""
    chain: list[int] = []
    parent_id = line.parent_id
    while parent_id is not None:
        chain.append(parent_id)
        parent_id = db.session.scalar(
            select(SettlementLine.parent_id).where(SettlementLine.id == parent_id)
        )
    ancestors = (
        list(
            db.session.scalars(
                select(SettlementLine)
                .where(SettlementLine.id.in_(chain), scope_clause(SettlementLine, user))
                .order_by(SettlementLine.position)
            )
        )
        if chain
        else []
    )
    children = list(
        db.session.scalars(
            select(SettlementLine)
            .where(SettlementLine.parent_id == line.id, scope_clause(SettlementLine, user))
            .order_by(SettlementLine.position)
        )
    )
    return ancestors, children


def explanation_of(line: SettlementLine) -> dict[str, Any]:
    """The line's explanation as shown, with its ``steps`` (a member, team, leader or fund line's
    written from what it keeps when they are not stored: ``cascade.explanation_steps``)."""
    data = stored_explanation(line)
    columns = {name: getattr(line, name) for name in _STEP_COLUMNS}
    data["steps"] = explanation_steps(columns, data)
    return data


# The columns a line's steps may be written from (``cascade.explanation_steps``).
_STEP_COLUMNS = (
    "key", "level", "name", "signed_population", "weight", "share", "exact_fen",
    "entitled_fen", "rounding_adjustment",
)  # fmt: skip


def stored_explanation(line: SettlementLine) -> dict[str, Any]:
    """The line's explanation as stored (a member line's without its steps): for the readers of
    its ``figures``, ``factors`` or ``sources`` alone, e.g. a sheet of thousands of members."""
    data: dict[str, Any] = json.loads(line.explanation or "{}")
    return data


def stored_digest(settlement: Settlement) -> str:
    """The SHA-256 recomputed from the stored inputs and outputs."""
    return sha256_of(json.loads(settlement.inputs_json), json.loads(settlement.outputs_json))


def integrity_ok(settlement: Settlement) -> bool:
    return stored_digest(settlement) == settlement.sha256
