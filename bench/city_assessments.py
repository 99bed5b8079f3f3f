"""Measured paths 1 and 2: opening L1 for every team (and the naive per-team baseline), then L3
for every institution and L4 for every county with the spot-check draw and ``compute_l4``.

Everything a path writes is rolled back; the first run of each is saved as an artifact for the
floor (``city_floor``).
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import Any

from bench.city_harness import (
    Settings,
    dbapi_connection,
    items_of,
    load_artifact,
    make_app,
    metrics_probe,
    opens,
    public_calls,
    refuse_opened,
    save_artifact,
    timed_artifact,
)
from bench.floor import (
    Capture,
    session_settings,
)

# --------------------------------------------------------------------------- path 1: L1


def work_l1(s: Settings, recording: bool) -> dict[str, Any]:
    from fdoctor.assessments.opening import open_assessments
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s, recording)
    level, period = "L1", s.l1_period
    day = max(s.anchor, opens(level, period))
    runs = []
    with app.app_context(), clock.frozen(day):
        cap = Capture(record_rows=recording)
        cap.listen(db.engine)
        settings = session_settings(dbapi_connection(), s.dialect)
        refuse_opened(level, period)
        for i in range(1 if recording else s.repeat):
            calls: list[dict[str, Any]] = []
            with metrics_probe(cap, calls):
                started = time.perf_counter()
                result = open_assessments(level, period)
                db.session.flush()
                open_s = time.perf_counter() - started
            runs.append(
                {
                    "open_s": round(open_s, 4),
                    "metrics_s": round(sum(c["seconds"] for c in calls), 4),
                    "created": len(result.created),
                    "existing": result.existing,
                    "items": items_of(result.created),
                    "statements": len(cap.statements),
                    "calls": public_calls(calls),
                }
            )
            if i == 0:
                save_artifact(
                    s,
                    f"l1-{'check' if recording else 'app'}",
                    {"settings": settings,
                     "l1": {"statements": list(cap.statements), "calls": calls}},
                )  # fmt: skip
            cap.statements.clear()
            db.session.rollback()
        cap.remove(db.engine)
        db.session.remove()
    return {"level": level, "period": period, "day": day, "runs": runs}


def work_naive(s: Settings, limit: int | None) -> dict[str, Any]:
    """``compute_metrics`` once per team through the ORM session (the N+1 pattern).

    ``limit`` runs it for the first teams only (smoke tests): the values are still compared, but
    the time is then not comparable with the grouped path and no speed-up is reported.
    """
    from fdoctor.assessments import metrics
    from fdoctor.core import clock
    from fdoctor.extensions import db

    grouped_call = load_artifact(s, timed_artifact(s, "l1"))["l1"]["calls"][0]
    grouped = grouped_call["result"]
    if limit is not None:
        grouped = {unit: grouped[unit] for unit in sorted(grouped)[:limit]}
    app = make_app(s)
    naive: dict[int, Any] = {}
    queries = 0

    def count(*_args: Any) -> None:
        nonlocal queries
        queries += 1

    from sqlalchemy import event

    with app.app_context(), clock.frozen(s.anchor):
        event.listen(db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        for unit_id in sorted(grouped):
            naive.update(
                metrics.compute_metrics(
                    grouped_call["grain"],
                    grouped_call["start"],
                    grouped_call["end"],
                    as_of=grouped_call["as_of"],
                    unit_ids=[unit_id],
                )
            )
        seconds = time.perf_counter() - started
        event.remove(db.engine, "before_cursor_execute", count)
        db.session.rollback()
        db.session.remove()
    return {
        "seconds": round(seconds, 4),
        "queries": queries,
        "limited_to": limit,
        **compare_values(grouped, naive),
    }


def compare_values(a: dict[int, Any], b: dict[int, Any]) -> dict[str, Any]:
    """Compare two ``compute_metrics`` results: values, numerators and denominators must match."""
    differences = []
    text_differences = 0
    metrics_compared = 0
    for unit in sorted(set(a) | set(b)):
        left, right = a.get(unit, {}), b.get(unit, {})
        for metric in sorted(set(left) | set(right)):
            metrics_compared += 1
            x, y = left.get(metric), right.get(metric)
            if x is None or y is None:
                differences.append({"unit": unit, "metric": metric, "field": "missing"})
                continue
            for name in ("value", "numerator", "denominator"):
                if getattr(x, name) != getattr(y, name):
                    differences.append(
                        {"unit": unit, "metric": metric, "field": name,
                         "a": str(getattr(x, name)), "b": str(getattr(y, name))}
                    )  # fmt: skip
            if x.detail != y.detail or x.drill != y.drill:
                text_differences += 1
    return {
        "units_compared": len(set(a) | set(b)),
        "metrics_compared": metrics_compared,
        "values_equal": not differences and bool(metrics_compared),
        "differences": differences[:20],
        "difference_count": len(differences),
        "detail_or_drill_differences": text_differences,
    }


# --------------------------------------------------------------------------- path 2: L3 and L4


def work_l3l4(s: Settings, recording: bool) -> dict[str, Any]:
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s, recording)
    l3_period, l4_period = f"{s.year}-H2", str(s.year)
    day = max(s.anchor, opens("L3", l3_period), opens("L4", l4_period))
    runs = []
    with app.app_context(), clock.frozen(day):
        cap = Capture(record_rows=recording)
        cap.listen(db.engine)
        settings = session_settings(dbapi_connection(), s.dialect)
        refuse_opened("L3", l3_period)
        refuse_opened("L4", l4_period)
        for i in range(1 if recording else s.repeat):
            phases: dict[str, Any] = {"settings": settings}
            run: dict[str, Any] = {}
            run["l3"], phases["l3"] = _open_l3(cap, l3_period, day)
            run["l4"], phases["l4"] = _l4_whole(s, cap, l4_period, day)
            if i == 0:
                save_artifact(s, f"l3l4-{'check' if recording else 'app'}", phases)
            runs.append(run)
            db.session.rollback()
        cap.remove(db.engine)
        db.session.remove()
    return {"l3_period": l3_period, "l4_period": l4_period, "day": day, "runs": runs}


def _open_l3(cap: Capture, l3_period: str, day: date) -> tuple[dict[str, Any], dict[str, Any]]:
    """L3: every institution, the year-end half (covers the whole year). (Figures, artifact.)"""
    from fdoctor.assessments.opening import open_assessments
    from fdoctor.extensions import db

    calls: list[dict[str, Any]] = []
    with metrics_probe(cap, calls):
        started = time.perf_counter()
        r3 = open_assessments("L3", l3_period)
        db.session.flush()
        l3_s = time.perf_counter() - started
    figures = {
        "open_s": round(l3_s, 4),
        "metrics_s": round(sum(c["seconds"] for c in calls), 4),
        "created": len(r3.created),
        "existing": r3.existing,
        "items": items_of(r3.created),
        "statements": len(cap.statements),
        "calls": public_calls(calls),
    }
    artifact = {"statements": list(cap.statements), "calls": calls}
    cap.statements.clear()
    return figures, artifact


def _l4_whole(
    s: Settings, cap: Capture, l4_period: str, day: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """L4: every county, then the spot-check draw (opens L4S), then compute_l4. (Figures, artifact.)"""
    from sqlalchemy import select

    from fdoctor.assessments.errors import AssessmentError
    from fdoctor.assessments.l4 import compute_l4, draw_l4_spot_check
    from fdoctor.assessments.models import Assessment
    from fdoctor.assessments.opening import open_assessments
    from fdoctor.extensions import db

    calls: list[dict[str, Any]] = []
    with metrics_probe(cap, calls):
        started = time.perf_counter()
        r4 = open_assessments("L4", l4_period)
        db.session.flush()
        open_s = time.perf_counter() - started
        started = time.perf_counter()
        draw = draw_l4_spot_check(s.year, seed=s.seed)
        db.session.flush()
        draw_s = time.perf_counter() - started
    sampled = sum(1 for item in draw.items if item.selected)
    _submit_for_l4(s.year)
    l4_rows = db.session.scalars(
        select(Assessment).where(
            Assessment.level == "L4",
            Assessment.period == l4_period,
            Assessment.is_current.is_(True),
        )
    ).all()
    refused: list[str] = []
    started = time.perf_counter()
    for assessment in l4_rows:
        try:
            compute_l4(assessment)
        except AssessmentError as exc:
            refused.append(str(exc))
    db.session.flush()
    compute_s = time.perf_counter() - started
    figures = {
        "open_s": round(open_s, 4),
        "draw_s": round(draw_s, 4),
        "compute_l4_s": round(compute_s, 4),
        "total_s": round(open_s + draw_s + compute_s, 4),
        "metrics_s": round(sum(c["seconds"] for c in calls), 4),
        "created": len(r4.created),
        "existing": r4.existing,
        "items": items_of(r4.created),
        "spot_checked": sampled,
        "combined": len(l4_rows) - len(refused),
        "refused": refused[:10],
        "statements": len(cap.statements),
        "calls": public_calls(calls),
    }
    artifact = {"statements": list(cap.statements), "calls": calls}
    cap.statements.clear()
    return figures, artifact


def _submit_for_l4(year: int) -> None:
    """The assessors' part (not timed): the year-end L3 and the L4S results submitted with totals."""
    from sqlalchemy import and_, or_, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.core import clock
    from fdoctor.extensions import db

    rows = db.session.scalars(
        select(Assessment).where(
            Assessment.is_current.is_(True),
            or_(
                and_(Assessment.level == "L3", Assessment.period == f"{year}-H2"),
                and_(Assessment.level == "L4S", Assessment.period == str(year)),
            ),
        )
    ).all()
    for a in rows:
        a.status = "submitted"
        a.submitted_at = clock.now()
        if a.total is None:
            a.total = Decimal(70 + a.unit_id % 29) + Decimal(a.unit_id % 4) / 4
    db.session.flush()
