"""Measured path 3: the year's settlement sheet down to every member, after the prerequisites it
lacks are put in place in the same rolled-back transaction (by the tests' settlement factory,
``tests/factories/settlement.py:settlement_prerequisites``)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date
from typing import Any

from bench.city_harness import (
    Settings,
    make_app,
)

# --------------------------------------------------------------------------- path 3: settlement


def work_settlement(s: Settings) -> dict[str, Any]:
    from sqlalchemy import func, select

    from fdoctor.core import clock
    from fdoctor.extensions import db
    from fdoctor.settlement.build import build_settlement
    from fdoctor.settlement.cascade import compute
    from fdoctor.settlement.inputs import gather_inputs
    from fdoctor.settlement.models import SettlementLine
    from tests.factories.settlement import settlement_prerequisites

    app = make_app(s)
    year = s.year
    runs = []
    with app.app_context(), clock.frozen(date(year + 1, 3, 1)):
        for _ in range(s.repeat):
            added = settlement_prerequisites(year, clock.now())
            started = time.perf_counter()
            settlement, _changed = build_settlement(year, "settlement", None)
            db.session.flush()
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            inputs, missing = gather_inputs(year, "settlement")
            gather_s = time.perf_counter() - started
            started = time.perf_counter()
            outputs = compute(inputs)
            compute_s = time.perf_counter() - started
            levels = dict(
                db.session.execute(
                    select(SettlementLine.level, func.count(SettlementLine.id))
                    .where(SettlementLine.settlement_id == settlement.id)
                    .group_by(SettlementLine.level)
                ).all()
            )
            runs.append(
                {
                    "build_s": round(build_s, 4),
                    "gather_inputs_s": round(gather_s, 4),
                    "compute_s": round(compute_s, 4),
                    "lines": levels,
                    "total_fen": settlement.total_fen,
                    "sha256": settlement.sha256,
                    "amounts_sha256": _amounts_digest(outputs),
                    "missing": missing,
                    "sums_ok": _sums_ok(outputs),
                    "prerequisites_added": added,
                }
            )
            db.session.rollback()
        db.session.remove()
    return {"year": year, "runs": runs}


def _amounts_digest(outputs: list[dict[str, Any]]) -> str:
    """SHA-256 of every line's key and amounts: unlike the sheet's own SHA-256 it leaves out the
    ids of the source assessments, which PostgreSQL sequences move on even when rolled back."""
    import hashlib

    amounts = sorted(
        (line["key"], line["entitled_fen"], line["preallocated_fen"], line["balance_fen"])
        for line in outputs
    )
    return hashlib.sha256(json.dumps(amounts, default=str).encode()).hexdigest()


def _sums_ok(outputs: list[dict[str, Any]]) -> bool:
    """Every parent line's entitlement is exactly the sum of its children's (like the tests)."""
    children: dict[str, int] = defaultdict(int)
    have_children: set[str] = set()
    for line in outputs:
        if line["parent"]:
            children[line["parent"]] += line["entitled_fen"] or 0
            have_children.add(line["parent"])
    lines = {line["key"]: line for line in outputs}
    return bool(outputs) and all(
        children[key] == (lines[key]["entitled_fen"] or 0) for key in have_children
    )
