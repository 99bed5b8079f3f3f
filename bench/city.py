"""Benchmarks of issue #7's heavy paths at city scale, each against its floor, on either engine.

    .venv/bin/python bench/city.py --scale county --db postgresql --json bench/results/city-county-pg.json
    .venv/bin/python bench/city.py --scale county --db sqlite --json bench/results/city-county-sqlite.json
    .venv/bin/python bench/city.py --show bench/results/city-county-pg.json bench/results/city-county-sqlite.json

The database is prepared when needed and reused afterwards (``--fresh`` rebuilds it): PostgreSQL
database ``fdoctor_bench_<scale>`` or SQLite file ``bench/data/<scale>.sqlite3``, through the app's
own ``flask db upgrade`` and ``flask demo load --scale <scale> --anchor <anchor> --seed <seed>``,
then the state a real city has on the anchor day: the scheduler has opened the last half-year's L3
(``<year>-H1``) and the last year's L4 (``<year-1>``), which the dashboards show. That state is
committed once; everything a measured path writes happens in a transaction that is rolled back, so
reruns measure the same thing.

Paths (each in its own forked child, so the child's peak RSS, read with ``wait4``, is the path's):

1. ``l1``: open the L1 assessments of the anchor's previous month for every team
   (``open_assessments``, as the ``open_l1`` job does). Reported: ``compute_metrics`` for all teams,
   the whole open (assessments and items created and flushed), peak RSS; the **floor** (every SQL
   statement ``compute_metrics`` emitted, captured with its parameters and replayed bare through
   the driver, fetching every row); and the **naive** baseline (``compute_metrics`` once per team
   through the ORM session), whose values must equal the grouped ones.
2. ``l3``/``l4``: open L3 for every institution for ``<year>-H2`` (the year-end, covering the whole
   year) and L4 for every county for ``<year>`` on 1 January after it; then the city's spot-check
   draw (which opens the L4S assessments) and ``compute_l4`` for every county, once the L3 and L4S
   results are in (set to submitted in the same transaction). Each with its floor.
3. ``settlement``: the year's settlement sheet down to every member (``build_settlement``), after
   whatever it lacks (published L2/L3/L4 scores, funds, split, post coefficients, a workload
   standard, member ratings) is put in place in the same rolled-back transaction.
5. ``web``: the county and city dashboards (page and chart JSON) and the household search, through
   the real Flask app (test client) logged in as ``county`` and ``city``: p50/p95 over N requests,
   with search terms drawn from the data (name, ID-number tail, phone, address).
6. The same with ``--db sqlite``.

Every metrics path runs twice: first with recording cursors (each row the app fetched is folded
into a per-statement digest; this also warms the caches), then clean for the timing. The floor's
rows must match the recording run's, statement by statement. Exit status 1 when a path failed or a
check did not hold (never because a target was missed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pickle
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.floor import (  # noqa: E402
    Capture,
    Statement,
    connect_bare,
    recording_connect_args,
    replay,
    session_settings,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_ANCHOR = "2026-11-20"
DEFAULT_SEED = 20260101
DEMO_PASSWORD = "Demo2026"
DATA_DIR = ROOT / "bench" / "data"
PATHS = ("l1", "naive", "l3l4", "settlement", "web")
# Scales at which the naive baseline is skipped unless forced (one query set per team is too slow).
NAIVE_SKIPPED_AT = ("city",)
BIG_TABLES = (
    "org_unit",
    "user_account",
    "grid_cell",
    "household",
    "resident",
    "pregnancy",
    "contract",
    "contract_member",
    "service_record",
    "survey_response",
    "complaint",
    "assessment",
    "assessment_item",
    "audit_entry",
)
# Targets of issue #7: (key, path, what, limit, unit, "max" or "min").
TARGETS = (
    ("l1_open_s", "l1", "L1 开启（全部团队）", 20.0, "s", "max"),
    ("l1_floor_ratio", "l1", "L1 指标计算 ÷ 底线", 1.5, "×", "max"),
    ("l1_naive_speedup", "l1", "朴素逐团队 ÷ 分组计算", 10.0, "×", "min"),
    ("l1_peak_rss_mb", "l1", "L1 进程峰值内存", 500.0, "MB", "max"),
    ("l3_s", "l3", "L3 开启（全部机构）", 30.0, "s", "max"),
    ("l4_s", "l4", "L4 全流程（全部县区）", 30.0, "s", "max"),
    ("settlement_s", "settlement", "结算级联到每名成员", 2.0, "s", "max"),
)
WEB_TARGET_MS = 300.0


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message is Chinese."""


@dataclass
class Settings:
    scale: str
    dialect: str  # "postgresql" or "sqlite"
    url: str  # SQLAlchemy URL of the bench database
    bare: str  # libpq URI or SQLite file path, for the floor
    database: str  # database name or file path, for the report
    anchor: date
    seed: int
    l1_period: str
    year: int
    repeat: int
    requests: int
    workdir: Path
    one_pass: bool = False  # smoke tests: the recording run is also the timed one
    children: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------- forked children


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def run_child(
    s: Settings, name: str, fn: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """Run ``fn(*args)`` in a forked child; its JSON result plus the child's peak RSS and wall time."""
    out = s.workdir / f"{name}.result.json"
    sys.stdout.flush()
    sys.stderr.flush()
    load_before = os.getloadavg()
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child
        status = 0
        try:
            data = fn(*args)
            out.write_text(json.dumps(data, ensure_ascii=False, default=_json_default), "utf-8")
        except BaseException as exc:  # noqa: BLE001 - everything goes into the report
            trace = traceback.format_exc()
            message = str(exc) if isinstance(exc, BenchError) else trace
            out.write_text(json.dumps({"error": message}, ensure_ascii=False), "utf-8")
            sys.stderr.write(trace)
            status = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if out.exists():
        data = json.loads(out.read_text("utf-8"))
    else:
        data = {"error": f"子进程异常退出（状态 {status}）"}
    process = {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # The child starts as a copy of the parent (the app imported, ~a fresh app process).
        "parent_peak_rss_mb_at_fork": round(parent_rss / 1024, 1),
        "wall_s": round(wall, 3),
        "cpu_user_s": round(usage.ru_utime, 3),
        "cpu_system_s": round(usage.ru_stime, 3),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    data["process"] = process
    s.children[name] = process
    return data


def preload() -> None:
    """Import the app once in the parent, so every forked child starts with it loaded."""
    import fdoctor

    for module in (
        *fdoctor.BLUEPRINT_MODULES,
        *(m for m, _ in fdoctor.CLI_GROUPS),
        "fdoctor.models",
        "fdoctor.assessments.metrics",
        "fdoctor.assessments.services",
        "fdoctor.settlement.services",
        "fdoctor.settlement.cascade",
        "fdoctor.reports.dashboards",
        "fdoctor.demo.generator",
        "flask_migrate",
        "psycopg",
    ):
        importlib.import_module(module)


def make_app(s: Settings, recording: bool = False) -> Any:
    from config import config_for
    from fdoctor import create_app

    options = dict(config_for(None).SQLALCHEMY_ENGINE_OPTIONS)
    if recording:
        options["connect_args"] = {
            **dict(options.get("connect_args") or {}),  # type: ignore[call-overload]
            **recording_connect_args(s.dialect),
        }
    return create_app({"SQLALCHEMY_DATABASE_URI": s.url, "SQLALCHEMY_ENGINE_OPTIONS": options})


def _dbapi_connection() -> Any:
    from fdoctor.extensions import db

    return db.session.connection().connection.dbapi_connection


# --------------------------------------------------------------------------- preparing the database


def _pg_admin(admin_url: str) -> Any:
    import psycopg

    return psycopg.connect(_libpq(admin_url), autocommit=True)


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def read_marker(s: Settings, admin_url: str) -> dict[str, Any] | None:
    if s.dialect == "sqlite":
        path = Path(s.database + ".bench.json")
        return json.loads(path.read_text("utf-8")) if path.exists() else None
    with _pg_admin(admin_url) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (s.database,),
        ).fetchone()
    if row is None or not row[0] or not row[0].startswith("{"):
        return None
    return json.loads(row[0])  # type: ignore[no-any-return]


def write_marker(s: Settings, admin_url: str, marker: dict[str, Any]) -> None:
    text = json.dumps(marker, ensure_ascii=False, sort_keys=True)
    if s.dialect == "sqlite":
        Path(s.database + ".bench.json").write_text(text, "utf-8")
        return
    from psycopg import sql

    with _pg_admin(admin_url) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(s.database), sql.Literal(text)
            )
        )


def ensure_database(s: Settings, admin_url: str, fresh: bool) -> None:
    if s.dialect == "sqlite":
        path = Path(s.database)
        if fresh:
            for suffix in ("", "-wal", "-shm", ".bench.json"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    from psycopg import sql

    with _pg_admin(admin_url) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (s.database,)
        ).fetchone()
        if exists and fresh:
            conn.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(s.database))
            )
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(s.database)))


def work_prepare(s: Settings, marker: dict[str, Any] | None, admin_url: str) -> dict[str, Any]:
    """``flask db upgrade``; ``flask demo load`` into an empty database; the anchor day's state."""
    from flask.cli import FlaskGroup
    from sqlalchemy import func, select

    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit

    app = make_app(s)
    cli = FlaskGroup(create_app=lambda: app, load_dotenv=False, add_default_commands=False)
    info: dict[str, Any] = {}
    started = time.perf_counter()
    cli.main(args=["db", "upgrade"], prog_name="flask", standalone_mode=False)
    info["upgrade_s"] = round(time.perf_counter() - started, 2)
    with app.app_context():
        loaded = bool(db.session.scalar(select(func.count(OrgUnit.id))))
        db.session.remove()
    if loaded:
        info["loaded"] = "reused"
        if marker is not None:
            wanted = {"scale": s.scale, "anchor": s.anchor.isoformat(), "seed": s.seed}
            found = {k: marker.get(k) for k in wanted}
            if found != wanted:
                raise BenchError(
                    f"数据库 {s.database} 中已载入的演示数据（{found}）与本次要求（{wanted}）不符，"
                    "请加 --fresh 重建"
                )
            info["load_s"] = marker.get("load_s")
        else:
            info["note"] = "数据库已有数据但没有基准标记，按所给规模使用"
    else:
        started = time.perf_counter()
        cli.main(
            args=["demo", "load", "--scale", s.scale, "--anchor", s.anchor.isoformat(),
                  "--seed", str(s.seed)],
            prog_name="flask",
            standalone_mode=False,
        )  # fmt: skip
        info["loaded"] = "now"
        info["load_s"] = round(time.perf_counter() - started, 2)
        marker = {"scale": s.scale, "anchor": s.anchor.isoformat(), "seed": s.seed,
                  "load_s": info["load_s"], "loaded_at": datetime.now().isoformat(timespec="seconds")}  # fmt: skip
        write_marker(s, admin_url, marker)
    with app.app_context():
        info["anchor_state"] = _anchor_day_state(s)
        info.update(_database_facts(s))
        db.session.remove()
    return info


def _anchor_day_state(s: Settings) -> list[dict[str, Any]]:
    """Open what the scheduler had opened by the anchor day and the dashboards show; committed."""
    from sqlalchemy import func, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.assessments.services import open_assessments
    from fdoctor.core import clock
    from fdoctor.extensions import db

    done = []
    for level, period in (("L3", f"{s.year}-H1"), ("L4", str(s.year - 1))):
        day = _opens(level, period)
        if day > s.anchor:
            continue
        have = db.session.scalar(
            select(func.count(Assessment.id)).where(
                Assessment.level == level, Assessment.period == period
            )
        )
        if have:
            done.append({"level": level, "period": period, "existing": have})
            continue
        started = time.perf_counter()
        with clock.frozen(day):
            result = open_assessments(level, period, today=day)
        db.session.commit()
        done.append(
            {"level": level, "period": period, "opened": len(result.created),
             "seconds": round(time.perf_counter() - started, 2)}
        )  # fmt: skip
    return done


def _database_facts(s: Settings) -> dict[str, Any]:
    import sqlalchemy
    from sqlalchemy import func, select, text

    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit

    rows = {
        table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in BIG_TABLES
    }
    units = dict(
        db.session.execute(
            select(OrgUnit.kind, func.count(OrgUnit.id)).group_by(OrgUnit.kind)
        ).all()
    )
    facts: dict[str, Any] = {"rows": rows, "units": units, "sqlalchemy": sqlalchemy.__version__}
    if s.dialect == "postgresql":
        facts["server"] = db.session.execute(text("SHOW server_version")).scalar_one()
        facts["size_mb"] = round(
            db.session.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            / 2**20,
            1,
        )
        import psycopg

        facts["driver"] = f"psycopg {psycopg.__version__}"
    else:
        import sqlite3

        facts["server"] = f"SQLite {sqlite3.sqlite_version}"
        facts["size_mb"] = round(Path(s.database).stat().st_size / 2**20, 1)
        facts["driver"] = f"sqlite3 (Python {platform.python_version()})"
    facts["session_settings"] = session_settings(_dbapi_connection(), s.dialect)
    return facts


def _opens(level: str, period: str) -> date:
    from assessments.tiers import Period, level_tier, opened_on

    lvl = level_tier(level)
    return opened_on(lvl, Period.parse(period, expect=lvl.period_kind))


# --------------------------------------------------------------------------- metrics probe


@contextmanager
def metrics_probe(cap: Capture, calls: list[dict[str, Any]]) -> Iterator[None]:
    """Time every ``compute_metrics`` call and capture the SQL it emits (and only that SQL)."""
    import inspect

    import fdoctor.assessments.metrics as metrics

    original = metrics.compute_metrics
    signature = inspect.signature(original)

    def probe(*args: Any, **kwargs: Any) -> Any:
        first = len(cap.statements)
        cap.active = True
        started = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            cap.active = False
        seconds = time.perf_counter() - started
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        unit_ids = arguments.get("unit_ids")
        calls.append(
            {
                "grain": arguments.get("grain"),
                "start": arguments.get("start"),
                "end": arguments.get("end"),
                "as_of": arguments.get("as_of"),
                "units_asked": None if unit_ids is None else len(list(unit_ids)),
                "units": len(result),
                "seconds": seconds,
                "statements": len(cap.statements) - first,
                "result": result,
            }
        )
        return result

    metrics.compute_metrics = probe  # type: ignore[assignment]
    try:
        yield
    finally:
        metrics.compute_metrics = original  # type: ignore[assignment]


def _public_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (round(v, 4) if k == "seconds" else v) for k, v in c.items() if k != "result"}
        for c in calls
    ]


def timed_artifact(s: Settings, op: str) -> str:
    """The artifact of the timed run (the recording run itself with ``--one-pass``)."""
    return f"{op}-{'check' if s.one_pass else 'app'}"


def save_artifact(s: Settings, name: str, phases: dict[str, Any]) -> None:
    with open(s.workdir / f"{name}.pkl", "wb") as fh:
        pickle.dump(phases, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load_artifact(s: Settings, name: str) -> dict[str, Any]:
    with open(s.workdir / f"{name}.pkl", "rb") as fh:
        return pickle.load(fh)  # type: ignore[no-any-return]


def _refuse_opened(level: str, period: str) -> None:
    from sqlalchemy import func, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.extensions import db

    have = db.session.scalar(
        select(func.count(Assessment.id)).where(
            Assessment.level == level, Assessment.period == period
        )
    )
    if have:
        raise BenchError(
            f"基准数据库中已有 {have} 份 {level} {period} 考核，开启将被跳过、无从计时；"
            "请换一个周期（--l1-period / --year）或加 --fresh 重建数据库"
        )


def _items_of(ids: list[int]) -> int:
    from sqlalchemy import func, select

    from fdoctor.assessments.models import AssessmentItem
    from fdoctor.extensions import db

    total = 0
    for i in range(0, len(ids), 5000):
        total += (
            db.session.scalar(
                select(func.count(AssessmentItem.id)).where(
                    AssessmentItem.assessment_id.in_(ids[i : i + 5000])
                )
            )
            or 0
        )
    return total


# --------------------------------------------------------------------------- path 1: L1


def work_l1(s: Settings, recording: bool) -> dict[str, Any]:
    from fdoctor.assessments.services import open_assessments
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s, recording)
    level, period = "L1", s.l1_period
    day = max(s.anchor, _opens(level, period))
    runs = []
    with app.app_context(), clock.frozen(day):
        cap = Capture(record_rows=recording)
        cap.listen(db.engine)
        settings = session_settings(_dbapi_connection(), s.dialect)
        _refuse_opened(level, period)
        for i in range(1 if recording else s.repeat):
            calls: list[dict[str, Any]] = []
            with metrics_probe(cap, calls):
                started = time.perf_counter()
                result = open_assessments(level, period, today=day)
                db.session.flush()
                open_s = time.perf_counter() - started
            runs.append(
                {
                    "open_s": round(open_s, 4),
                    "metrics_s": round(sum(c["seconds"] for c in calls), 4),
                    "created": len(result.created),
                    "existing": result.existing,
                    "items": _items_of(result.created),
                    "statements": len(cap.statements),
                    "calls": _public_calls(calls),
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
    from sqlalchemy import select

    from fdoctor.assessments.models import Assessment
    from fdoctor.assessments.services import (
        AssessmentError,
        compute_l4,
        draw_l4_spot_check,
        open_assessments,
    )
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s, recording)
    l3_period, l4_period = f"{s.year}-H2", str(s.year)
    day = max(s.anchor, _opens("L3", l3_period), _opens("L4", l4_period))
    runs = []
    with app.app_context(), clock.frozen(day):
        cap = Capture(record_rows=recording)
        cap.listen(db.engine)
        settings = session_settings(_dbapi_connection(), s.dialect)
        _refuse_opened("L3", l3_period)
        _refuse_opened("L4", l4_period)
        for i in range(1 if recording else s.repeat):
            phases: dict[str, Any] = {"settings": settings}
            run: dict[str, Any] = {}
            # L3: every institution, the year-end half (covers the whole year).
            calls: list[dict[str, Any]] = []
            with metrics_probe(cap, calls):
                started = time.perf_counter()
                r3 = open_assessments("L3", l3_period, today=day)
                db.session.flush()
                l3_s = time.perf_counter() - started
            run["l3"] = {
                "open_s": round(l3_s, 4),
                "metrics_s": round(sum(c["seconds"] for c in calls), 4),
                "created": len(r3.created),
                "existing": r3.existing,
                "items": _items_of(r3.created),
                "statements": len(cap.statements),
                "calls": _public_calls(calls),
            }
            phases["l3"] = {"statements": list(cap.statements), "calls": calls}
            cap.statements.clear()
            # L4: every county, then the spot-check draw (opens L4S), then compute_l4.
            calls = []
            with metrics_probe(cap, calls):
                started = time.perf_counter()
                r4 = open_assessments("L4", l4_period, today=day)
                db.session.flush()
                open_s = time.perf_counter() - started
                started = time.perf_counter()
                draw = draw_l4_spot_check(s.year, seed=s.seed, today=day)
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
            run["l4"] = {
                "open_s": round(open_s, 4),
                "draw_s": round(draw_s, 4),
                "compute_l4_s": round(compute_s, 4),
                "total_s": round(open_s + draw_s + compute_s, 4),
                "metrics_s": round(sum(c["seconds"] for c in calls), 4),
                "created": len(r4.created),
                "existing": r4.existing,
                "items": _items_of(r4.created),
                "spot_checked": sampled,
                "combined": len(l4_rows) - len(refused),
                "refused": refused[:10],
                "statements": len(cap.statements),
                "calls": _public_calls(calls),
            }
            phases["l4"] = {"statements": list(cap.statements), "calls": calls}
            cap.statements.clear()
            if i == 0:
                save_artifact(s, f"l3l4-{'check' if recording else 'app'}", phases)
            runs.append(run)
            db.session.rollback()
        cap.remove(db.engine)
        db.session.remove()
    return {"l3_period": l3_period, "l4_period": l4_period, "day": day, "runs": runs}


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


# --------------------------------------------------------------------------- floors


def work_floor(s: Settings, op: str, phases: list[str]) -> dict[str, Any]:
    """Replay the timed run's statements bare; compare the rows with the recording run's."""
    app_art = load_artifact(s, timed_artifact(s, op))
    check_art = load_artifact(s, f"{op}-check")
    settings = app_art["settings"]
    out: dict[str, Any] = {"settings": settings}
    for phase in phases:
        statements: list[Statement] = app_art[phase]["statements"]
        recorded: list[Statement] = check_art[phase]["statements"]
        same_sql = len(statements) == len(recorded) and all(
            a.sql == b.sql and a.parameters == b.parameters
            for a, b in zip(statements, recorded, strict=False)
        )
        replays = []
        first = None
        for i in range(s.repeat):
            conn = connect_bare(s.dialect, s.bare, settings)
            try:
                result = replay(conn, statements, digest=i == 0)
            finally:
                conn.close()
            if first is None:
                first = result
            replays.append(round(result.seconds, 4))
        assert first is not None
        mismatched = []
        unrecorded = 0
        for n, (stmt, floor_digest) in enumerate(zip(recorded, first.digests, strict=False)):
            if stmt.digest is None:
                unrecorded += 1
                continue
            if (stmt.digest.rows, stmt.digest.hash) != (floor_digest.rows, floor_digest.hash):
                mismatched.append(
                    {"statement": n, "app_rows": stmt.digest.rows, "floor_rows": floor_digest.rows,
                     "sql": _head(stmt.sql)}
                )  # fmt: skip
        slowest = sorted(range(len(statements)), key=lambda n: -first.per_statement[n])[:5]
        out[phase] = {
            "seconds": min(replays),
            "runs": replays,
            "statements": len(statements),
            "rows": first.rows,
            "same_sql_as_check_run": same_sql,
            "rows_match": same_sql and not mismatched and unrecorded == 0,
            "mismatched": mismatched[:10],
            "unrecorded": unrecorded,
            "slowest": [
                {
                    "statement": n,
                    "seconds": round(first.per_statement[n], 4),
                    "rows": first.digests[n].rows,
                    "sql": _head(statements[n].sql),
                }
                for n in slowest
            ],  # fmt: skip
        }
    return out


def _head(sql: str, length: int = 200) -> str:
    return re.sub(r"\s+", " ", sql).strip()[:length]


# --------------------------------------------------------------------------- path 3: settlement


def work_settlement(s: Settings) -> dict[str, Any]:
    from sqlalchemy import func, select

    from fdoctor.core import clock
    from fdoctor.extensions import db
    from fdoctor.settlement import services
    from fdoctor.settlement.cascade import compute
    from fdoctor.settlement.models import SettlementLine

    app = make_app(s)
    year = s.year
    runs = []
    with app.app_context(), clock.frozen(date(year + 1, 3, 1)):
        for _ in range(s.repeat):
            added = settlement_prerequisites(year)
            started = time.perf_counter()
            settlement, _changed = services.build_settlement(year, "settlement", None)
            db.session.flush()
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            inputs, missing = services.gather_inputs(year, "settlement")
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


DEMO_POST_COEFFICIENTS = {"全科医生": "1.2", "乡村医生": "0.9", "公卫医生": "1.0", "护士": "0.8"}


def settlement_prerequisites(year: int) -> dict[str, int]:
    """Put in place (in the current transaction) what the year's settlement lacks."""
    from sqlalchemy import insert, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.auth.models import User
    from fdoctor.core import clock
    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit
    from fdoctor.settlement.models import (
        InstitutionSplit,
        MemberRating,
        PoolFund,
        PostCoefficient,
        WorkloadStandard,
    )
    from fdoctor.settlement.services import COUNTING_STATUSES, MEMBER_ROLES

    now = clock.now()
    added: dict[str, int] = Counter()
    units = db.session.execute(
        select(OrgUnit.id, OrgUnit.kind, OrgUnit.county_id, OrgUnit.institution_id).where(
            OrgUnit.active.is_(True)
        )
    ).all()
    wanted: dict[tuple[str, str, int], Any] = {}
    place: dict[int, tuple[int | None, int | None, str]] = {}
    for unit_id, kind, county_id, institution_id in units:
        place[unit_id] = (county_id, institution_id, kind)
        score = Decimal(70 + unit_id % 29) + Decimal(unit_id % 7) / 4
        if kind == "county":
            wanted[("L4", str(year), unit_id)] = score
        elif kind == "institution":
            wanted[("L3", f"{year}-H2", unit_id)] = score
        elif kind == "team":
            for q in (1, 2, 3, 4):
                wanted[("L2", f"{year}-Q{q}", unit_id)] = score - q
    current = db.session.scalars(
        select(Assessment).where(
            Assessment.is_current.is_(True),
            Assessment.level.in_(("L2", "L3", "L4")),
            Assessment.period.in_(
                [str(year), f"{year}-H2"] + [f"{year}-Q{q}" for q in range(1, 5)]
            ),
        )
    ).all()
    for a in current:
        key = (a.level, a.period, a.unit_id)
        if key not in wanted:
            continue
        total = wanted.pop(key)
        if a.status not in COUNTING_STATUSES or a.total is None:
            a.status, a.total, a.published_at = "published", total, now
            added["assessments_published"] += 1
    rows = []
    for (level, period, unit_id), total in wanted.items():
        county_id, institution_id, kind = place[unit_id]
        rows.append(
            {"level": level, "period": period, "unit_id": unit_id,
             "county_id": unit_id if kind == "county" else county_id,
             "institution_id": unit_id if kind == "institution" else institution_id,
             "team_id": unit_id if kind == "team" else None, "index_code": f"city-{year}",
             "index_version": "1", "status": "published", "revision": 1, "is_current": True,
             "flagged": False, "total": total, "opened_at": now, "due_on": now.date(),
             "published_at": now}
        )  # fmt: skip
    if rows:
        db.session.execute(insert(Assessment), rows)
        added["assessments_inserted"] = len(rows)
    pools = [u for u, (_c, _i, kind) in place.items() if kind == "pool"]
    funded = set(db.session.scalars(select(PoolFund.pool_id).where(PoolFund.year == year)))
    for n, pool_id in enumerate(sorted(pools)):
        if pool_id not in funded:
            db.session.add(
                PoolFund(pool_id=pool_id, year=year, fund_fen=987_654_321 + n, updated_at=now)
            )
            added["pool_funds"] += 1
    if (
        db.session.scalar(
            select(InstitutionSplit.id).where(InstitutionSplit.institution_id.is_(None))
        )
        is None
    ):
        db.session.add(InstitutionSplit(institution_id=None, centre_ratio=Decimal(60),
                                        stations_ratio=Decimal(40), updated_at=now))  # fmt: skip
        added["default_split"] = 1
    members = db.session.execute(
        select(User.id, User.post, User.org_unit_id, User.on_probation)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(OrgUnit.kind == "team", User.role.in_(MEMBER_ROLES), User.active.is_(True))
    ).all()
    posts = set(db.session.scalars(select(PostCoefficient.post)))
    for post in sorted({(p or "").strip() for _, p, _, _ in members} - posts):
        coefficient = Decimal(DEMO_POST_COEFFICIENTS.get(post, "1.0"))
        db.session.add(PostCoefficient(post=post, coefficient=coefficient, updated_at=now))
        added["post_coefficients"] += 1
    standard = db.session.scalar(
        select(WorkloadStandard.id).where(
            WorkloadStandard.year == year, WorkloadStandard.post == ""
        )
    )
    if standard is None:
        db.session.add(WorkloadStandard(year=year, post="", services_per_year=150, updated_at=now))
        added["workload_standard"] = 1
    rated = set(db.session.scalars(select(MemberRating.user_id).where(MemberRating.year == year)))
    ratings = []
    for n, (user_id, _post, team_id, probation) in enumerate(members):
        if probation or user_id in rated:
            continue
        county_id, institution_id, _kind = place.get(team_id, (None, None, ""))
        ratings.append(
            {"year": year, "user_id": user_id, "c": Decimal("0.8") + Decimal(n % 5) / 10,
             "a": Decimal(1) - Decimal(n % 4) / 20, "entered_at": now, "county_id": county_id,
             "institution_id": institution_id, "team_id": team_id}
        )  # fmt: skip
    if ratings:
        db.session.execute(insert(MemberRating), ratings)
        added["member_ratings"] = len(ratings)
    db.session.flush()
    return dict(added)


# --------------------------------------------------------------------------- path 5: web


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


@dataclass(frozen=True)
class SearchTerm:
    kind: str
    term: str
    resident: str  # the resident the term was drawn from


def _address_part(address: str) -> str:
    """What a clerk types for an address: the community or village after the street/township."""
    match = re.search(r"(?:街道|镇|乡)([^\d]{2,8}?)(?:\d|$)", address or "")
    if match:
        return match.group(1)[:6]
    return (address or "")[-10:-4]


def search_terms(county_id: int | None, count: int, seed: int) -> list[SearchTerm]:
    """Terms drawn from random residents in scope, cycling name / ID tail / phone / address."""
    from sqlalchemy import func, select

    from fdoctor.extensions import db
    from fdoctor.households.models import Household, Resident

    rng = random.Random(seed)
    scope = [Resident.county_id == county_id] if county_id is not None else []
    low, high = db.session.execute(
        select(func.min(Resident.id), func.max(Resident.id)).where(*scope)
    ).one()
    if low is None:
        return []
    kinds = ("name", "id_tail", "phone", "address")
    terms: list[SearchTerm] = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        for _attempt in range(20):
            row = db.session.execute(
                select(Resident.name, Resident.id_tail, Resident.phone, Household.address)
                .join(Household, Household.id == Resident.household_id)
                .where(Resident.id >= rng.randint(low, high), *scope)
                .order_by(Resident.id)
                .limit(1)
            ).first()
            if row is None:
                continue
            name, id_tail, phone, address = row
            term = {
                "name": name,
                "id_tail": (id_tail or "")[-4:],
                "phone": phone or "",
                "address": _address_part(address),
            }[kind]
            if term:
                terms.append(SearchTerm(kind, term, name))
                break
    return terms


def _login(client: Any, username: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    match = _CSRF.search(html)
    if not match:
        raise BenchError("登录页没有 CSRF 令牌")
    token = match.group(1) or match.group(2)
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise BenchError(f"演示账号 {username} 登录失败（{response.status_code}）")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


def _examples(terms: list[SearchTerm], skip: int) -> dict[str, str]:
    """The first timed term of each kind, for the report."""
    found: dict[str, str] = {}
    for term in terms[skip:]:
        found.setdefault(term.kind, term.term)
    return found


def work_web(s: Settings) -> dict[str, Any]:
    from sqlalchemy import select

    from fdoctor.auth.models import User
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s)
    warmup = 2
    with clock.frozen(s.anchor):
        with app.app_context():
            county_id = db.session.scalar(select(User.org_unit_id).where(User.username == "county"))
            county_terms = search_terms(county_id, s.requests + warmup, s.seed)
            city_terms = search_terms(None, s.requests + warmup, s.seed + 1)
            db.session.remove()
        clients = {}
        for username in ("county", "city"):
            client = app.test_client()
            _login(client, username)
            clients[username] = client
        endpoints: list[tuple[str, str, Callable[[int], str], list[SearchTerm] | None]] = [
            ("county_dashboard", "county", lambda _n: "/assessments/dashboard", None),
            ("county_dashboard_json", "county", lambda _n: "/assessments/dashboard/data.json", None),
            ("city_dashboard", "city", lambda _n: "/assessments/dashboard", None),
            ("city_dashboard_json", "city", lambda _n: "/assessments/dashboard/data.json", None),
            ("county_search", "county",
             lambda n: f"/households/?q={quote(county_terms[n].term)}", county_terms),
            ("city_search", "city", lambda n: f"/households/?q={quote(city_terms[n].term)}", city_terms),
        ]  # fmt: skip
        results = {}
        for name, user, url_of, terms in endpoints:
            client = clients[user]
            timings: list[float] = []
            statuses: Counter[int] = Counter()
            found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            by_kind: dict[str, list[float]] = defaultdict(list)
            first_ms = None
            total = s.requests + warmup
            if terms is not None:
                total = min(total, len(terms))
            for n in range(total):
                started = time.perf_counter()
                response = client.get(url_of(n))
                body = response.get_data(as_text=True)
                elapsed = (time.perf_counter() - started) * 1000
                if n == 0:
                    first_ms = elapsed
                if n < warmup:
                    continue
                timings.append(elapsed)
                statuses[response.status_code] += 1
                if terms is not None:
                    term = terms[n]
                    found[term.kind][1] += 1
                    by_kind[term.kind].append(elapsed)
                    if term.resident in body:
                        found[term.kind][0] += 1
            results[name] = {
                "user": user,
                "requests": len(timings),
                "statuses": {str(k): v for k, v in statuses.items()},
                "p50_ms": round(_percentile(timings, 50), 2),
                "p95_ms": round(_percentile(timings, 95), 2),
                "max_ms": round(max(timings), 2) if timings else None,
                "mean_ms": round(statistics.fmean(timings), 2) if timings else None,
                "first_request_ms": round(first_ms or 0, 2),
                **({"examples": _examples(terms, warmup)} if terms is not None else {}),
                **({"by_kind": {k: {"requests": len(v), "p50_ms": round(_percentile(v, 50), 2),
                                    "p95_ms": round(_percentile(v, 95), 2)}
                                for k, v in by_kind.items()}}
                   if terms is not None else {}),
                **({"found": {k: {"found": v[0], "searched": v[1]} for k, v in found.items()}}
                   if terms is not None else {}),
            }  # fmt: skip
    return {"endpoints": results, "warmup_requests": warmup}


# --------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    import sqlite3

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "sqlite_version": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return info


def _pg_version(admin_url: str) -> str | None:
    """The PostgreSQL server's version, if one answers (SQLite runs report it too)."""
    try:
        with _pg_admin(admin_url + "?connect_timeout=3") as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception:  # noqa: BLE001 - no server is fine for an SQLite run
        return None
    return str(row[0]) if row else None


def _git_commit() -> str | None:
    """HEAD's commit, read from the files (no git process)."""
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        common = git
        if (git / "commondir").exists():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        for base in (git, common):
            if (base / ref).exists():
                return (base / ref).read_text().strip()
        for base in (git, common):
            packed = base / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- the report


def _best(runs: list[dict[str, Any]], key: str) -> float:
    return min(r[key] for r in runs)


def summarize(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets with their measured values and verdicts (None when not measured)."""
    p = report["paths"]
    values: dict[str, float | None] = {}
    l1 = p.get("l1") or {}
    values["l1_open_s"] = l1.get("open_s")
    values["l1_floor_ratio"] = l1.get("floor_ratio")
    values["l1_peak_rss_mb"] = l1.get("peak_rss_mb")
    naive = p.get("naive") or {}
    values["l1_naive_speedup"] = naive.get("speedup")
    values["l3_s"] = (p.get("l3") or {}).get("open_s")
    values["l4_s"] = (p.get("l4") or {}).get("total_s")
    values["settlement_s"] = (p.get("settlement") or {}).get("build_s")
    targets = []
    for key, path, label, limit, unit, sense in TARGETS:
        value = values.get(key)
        met = None if value is None else (value <= limit if sense == "max" else value >= limit)
        targets.append(
            {"key": key, "path": path, "label": label, "target": limit, "unit": unit,
             "sense": sense, "value": value, "met": met}
        )  # fmt: skip
    for name, endpoint in ((p.get("web") or {}).get("endpoints") or {}).items():
        value = endpoint.get("p95_ms")
        targets.append(
            {"key": f"{name}_p95_ms", "path": "web", "label": f"{WEB_LABELS.get(name, name)} p95",
             "target": WEB_TARGET_MS, "unit": "ms", "sense": "max", "value": value,
             "met": None if value is None else value < WEB_TARGET_MS}
        )  # fmt: skip
    return targets


WEB_LABELS = {
    "county_dashboard": "县区看板页面",
    "county_dashboard_json": "县区看板数据",
    "city_dashboard": "全市看板页面",
    "city_dashboard_json": "全市看板数据",
    "county_search": "县区居民检索",
    "city_search": "全市居民检索",
}


def build_l1(check: dict[str, Any], app: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    for part in (check, app, floor):
        if "error" in part:
            return {"error": part["error"]}
    runs = app["runs"]
    metrics_s = _best(runs, "metrics_s")
    floor_s = floor["l1"]["seconds"]
    return {
        "period": app["period"],
        "teams": runs[0]["created"],
        "items": runs[0]["items"],
        "statements": runs[0]["statements"],
        "metrics_s": metrics_s,
        "open_s": _best(runs, "open_s"),
        "floor_s": floor_s,
        "floor_ratio": round(metrics_s / floor_s, 3) if floor_s else None,
        "peak_rss_mb": app["process"]["peak_rss_mb"],
        "check_run": {
            "metrics_s": check["runs"][0]["metrics_s"],
            "open_s": check["runs"][0]["open_s"],
        },
        "runs": runs,
        "floor": floor["l1"],
        "floor_settings": floor["settings"],
        "process": app["process"],
    }


def build_l3l4(
    check: dict[str, Any], app: dict[str, Any], floor: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    for part in (check, app, floor):
        if "error" in part:
            return {"error": part["error"]}, {"error": part["error"]}
    runs = app["runs"]
    l3_runs = [r["l3"] for r in runs]
    l4_runs = [r["l4"] for r in runs]
    l3 = {
        "period": app["l3_period"],
        "institutions": l3_runs[0]["created"],
        "items": l3_runs[0]["items"],
        "open_s": _best(l3_runs, "open_s"),
        "metrics_s": _best(l3_runs, "metrics_s"),
        "floor_s": floor["l3"]["seconds"],
        "floor_ratio": round(_best(l3_runs, "metrics_s") / floor["l3"]["seconds"], 3)
        if floor["l3"]["seconds"]
        else None,
        "runs": l3_runs,
        "floor": floor["l3"],
        "peak_rss_mb": app["process"]["peak_rss_mb"],
    }
    l4 = {
        "period": app["l4_period"],
        "counties": l4_runs[0]["created"],
        "spot_checked": l4_runs[0]["spot_checked"],
        "combined": l4_runs[0]["combined"],
        "total_s": _best(l4_runs, "total_s"),
        "open_s": _best(l4_runs, "open_s"),
        "draw_s": _best(l4_runs, "draw_s"),
        "compute_l4_s": _best(l4_runs, "compute_l4_s"),
        "metrics_s": _best(l4_runs, "metrics_s"),
        "floor_s": floor["l4"]["seconds"],
        "floor_ratio": round(_best(l4_runs, "metrics_s") / floor["l4"]["seconds"], 3)
        if floor["l4"]["seconds"]
        else None,
        "runs": l4_runs,
        "floor": floor["l4"],
        "peak_rss_mb": app["process"]["peak_rss_mb"],
    }
    return l3, l4


def checks_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Behaviour that must hold whatever the timings (a failed one makes the exit status 1)."""
    p = report["paths"]
    checks: list[dict[str, Any]] = []

    def add(name: str, ok: bool, detail: Any = None) -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    for name, part in p.items():
        if "error" in part:
            add(f"{name} ran", False, part["error"][-2000:])
    l1 = p.get("l1") or {}
    if "floor" in l1:
        add("l1 floor rows match the app's", l1["floor"]["rows_match"], l1["floor"]["mismatched"])
        add("l1 opened every team", l1["teams"] > 0 and l1["runs"][0]["existing"] == 0)
    naive = p.get("naive") or {}
    if "values_equal" in naive:
        add("naive values equal grouped", naive["values_equal"], naive["differences"][:5])
    for level in ("l3", "l4"):
        part = p.get(level) or {}
        if "floor" in part:
            add(
                f"{level} floor rows match the app's",
                part["floor"]["rows_match"],
                part["floor"]["mismatched"],
            )
    l4 = p.get("l4") or {}
    if "combined" in l4:
        add("l4 combined every county", l4["combined"] == l4["counties"], l4["runs"][0]["refused"])
    st = p.get("settlement") or {}
    if "runs" in st:
        first = st["runs"][0]
        add("settlement inputs complete", not first["missing"], first["missing"][:5])
        add("settlement lines add up", all(r["sums_ok"] for r in st["runs"]))
        add(
            "settlement reruns give the same amounts",
            len({r["amounts_sha256"] for r in st["runs"]}) == 1,
        )
    for name, endpoint in ((p.get("web") or {}).get("endpoints") or {}).items():
        add(f"{name} answered 200", set(endpoint["statuses"]) == {"200"}, endpoint["statuses"])
    return checks


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text} {unit}".strip()


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def figure_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, target-and-verdict) lines of one report, in a fixed order."""
    p = report["paths"]
    rows: list[tuple[str, str, str]] = []
    verdicts = {t["key"]: t for t in report.get("targets", [])}

    def verdict(key: str) -> str:
        t = verdicts.get(key)
        if t is None:
            return ""
        sign = "≤" if t["sense"] == "max" else "≥"
        if t["key"].endswith("_p95_ms"):
            sign = "<"
        state = "—" if t["met"] is None else ("达标" if t["met"] else "未达标")
        return f"{sign} {_fmt(t['target'], t['unit'])}  {state}"

    l1 = p.get("l1") or {}
    if "error" in l1:
        rows.append(("1 L1 开启", "出错", ""))
    elif l1:
        rows += [
            (f"1 L1 {l1['period']}：团队数", _fmt(l1["teams"]), ""),
            ("  compute_metrics（全部团队）", _fmt(l1["metrics_s"], "s"), ""),
            ("  整个开启（含建考核与条目）", _fmt(l1["open_s"], "s"), verdict("l1_open_s")),
            ("  底线（同样的 SQL 裸跑）", _fmt(l1["floor_s"], "s"), ""),
            ("  指标计算 ÷ 底线", _fmt(l1["floor_ratio"], "×"), verdict("l1_floor_ratio")),
            ("  进程峰值内存", _fmt(l1["peak_rss_mb"], "MB"), verdict("l1_peak_rss_mb")),
        ]
    naive = p.get("naive") or {}
    if "error" in naive:
        rows.append(("  朴素逐团队", "出错", ""))
    elif naive.get("skipped"):
        rows.append(("  朴素逐团队", "跳过", naive["skipped"]))
    elif naive:
        limited = (
            f"（仅前 {naive['limited_to']} 个团队）" if naive.get("limited_to") else "（ORM，N+1）"
        )
        rows += [
            (f"  朴素逐团队{limited}", _fmt(naive["seconds"], "s"), ""),
            ("  朴素 ÷ 分组", _fmt(naive.get("speedup"), "×"), verdict("l1_naive_speedup")),
            ("  朴素与分组数值一致", "是" if naive["values_equal"] else "否", ""),
        ]
    l3, l4 = p.get("l3") or {}, p.get("l4") or {}
    if "error" in l3:
        rows.append(("2 L3/L4", "出错", ""))
    elif l3:
        rows += [
            (f"2 L3 {l3['period']}：机构数", _fmt(l3["institutions"]), ""),
            ("  L3 整个开启", _fmt(l3["open_s"], "s"), verdict("l3_s")),
            ("  L3 其中 compute_metrics", _fmt(l3["metrics_s"], "s"), ""),
            (
                "  L3 底线（同样的 SQL 裸跑）",
                _fmt(l3["floor_s"], "s"),
                f"指标计算 ÷ 底线 {_fmt(l3['floor_ratio'], '×')}",
            ),
            (f"  L4 {l4['period']}：县区数", _fmt(l4["counties"]), ""),
            ("  L4 开启+抽查+合成", _fmt(l4["total_s"], "s"), verdict("l4_s")),
            (
                "  L4 其中开启 / 抽查 / 合成",
                " / ".join(_fmt(l4[k], "s") for k in ("open_s", "draw_s", "compute_l4_s")),
                "",
            ),
            ("  L4 其中 compute_metrics", _fmt(l4["metrics_s"], "s"), ""),
            (
                "  L4 底线（同样的 SQL 裸跑）",
                _fmt(l4["floor_s"], "s"),
                f"指标计算 ÷ 底线 {_fmt(l4['floor_ratio'], '×')}",
            ),
        ]
    st = p.get("settlement") or {}
    if "error" in st:
        rows.append(("3 结算", "出错", ""))
    elif st:
        rows += [
            (f"3 结算 {st['year']}：成员行数", _fmt(st["members"]), ""),
            (
                "  build_settlement（读取+级联+写入）",
                _fmt(st["build_s"], "s"),
                verdict("settlement_s"),
            ),
            (
                "  其中读取输入 / 级联计算",
                f"{_fmt(st['gather_inputs_s'], 's')} / {_fmt(st['compute_s'], 's')}",
                "",
            ),
        ]
    web = p.get("web") or {}
    if "error" in web:
        rows.append(("5 看板与检索", "出错", ""))
    elif web:
        first = True
        for name, endpoint in web["endpoints"].items():
            rows.append(
                (("5 " if first else "  ") + f"{WEB_LABELS.get(name, name)} p50 / p95",
                 f"{_fmt(endpoint['p50_ms'], 'ms')} / {_fmt(endpoint['p95_ms'], 'ms')}",
                 verdict(f"{name}_p95_ms"))
            )  # fmt: skip
            first = False
    return rows


def print_reports(reports: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    """One table; with several reports, one value column per report (e.g. PostgreSQL beside SQLite)."""
    all_rows = [figure_rows(r) for r in reports]
    labels: list[str] = []
    for rows in all_rows:
        previous: str | None = None
        for label, _, _ in rows:
            if label not in labels:  # right after the line it follows in its own report
                labels.insert(labels.index(previous) + 1 if previous else 0, label)
            previous = label
    values = [{label: (v, t) for label, v, t in rows} for rows in all_rows]
    heads = [f"{r['engine']} · {r['scale']}" for r in reports]
    label_w = max([_width(x) for x in labels] + [10]) + 2
    col_w = (
        max([_width(h) for h in heads] + [_width(v[0]) for m in values for v in m.values()] + [8])
        + 2
    )
    lines = [_pad("", label_w) + "".join(_pad(h, col_w) for h in heads) + "目标"]
    for label in labels:
        cells = [m.get(label, ("", ""))[0] for m in values]
        targets = [m.get(label, ("", ""))[1] for m in values]
        target = "  |  ".join(t for t in targets if t) if len(reports) > 1 else targets[0]
        lines.append(_pad(label, label_w) + "".join(_pad(c, col_w) for c in cells) + target)
    for r in reports:
        db = r.get("database", {})
        m = r.get("machine", {})
        rows = db.get("rows", {})
        lines.append("")
        lines.append(
            f"{r['engine']} · {r['scale']}：{db.get('server', '?')}；团队 {db.get('units', {}).get('team', '?'):,}，"
            f"居民 {rows.get('resident', 0):,}，服务记录 {rows.get('service_record', 0):,}，"
            f"库 {db.get('size_mb', '?')} MB"
        )
        lines.append(
            f"  机器：{m.get('cpu_model', '?')} × {m.get('cpu_count')}，内存 {m.get('ram_gb')} GB，"
            f"Python {m.get('python')}，提交 {str(m.get('git_commit'))[:10]}；"
            f"负载 {r.get('loadavg_start')} → {r.get('loadavg_end')}"
        )
        if r.get("settings", {}).get("one_pass"):
            lines.append("  --one-pass：指标路径只跑了带行记录的一遍，计时含记录开销，仅供冒烟检查")
        failed = [c for c in r.get("checks", []) if not c["ok"]]
        lines.append(
            "  检查：全部通过"
            if not failed
            else "  检查未通过：" + "；".join(c["name"] for c in failed)
        )
    print("\n".join(lines), file=out)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="issue #7 城市规模性能基准：L1/L3/L4 开启（对照底线与朴素写法）、结算、看板与检索"
    )
    parser.add_argument("--scale", default="demo", help="演示数据规模（demo、small、county、city）")
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--json", type=Path, help="把报告写入该 JSON 文件")
    parser.add_argument("--fresh", action="store_true", help="删除并重建基准数据库")
    parser.add_argument("--anchor", default=DEFAULT_ANCHOR, help="演示数据基准日期")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="PostgreSQL 管理连接（建库用）")
    parser.add_argument("--pg-db", help="PostgreSQL 库名（默认 fdoctor_bench_<scale>）")
    parser.add_argument(
        "--sqlite-file", type=Path, help="SQLite 文件（默认 bench/data/<scale>.sqlite3）"
    )
    parser.add_argument("--l1-period", help="L1 月份（默认基准日期的上个月）")
    parser.add_argument("--year", type=int, help="L3/L4 与结算的年度（默认基准日期所在年）")
    parser.add_argument("--repeat", type=int, default=1, help="计时重复次数（取最好的一次）")
    parser.add_argument("--requests", type=int, default=50, help="每个看板/检索地址的请求数")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"只跑其中几项：{','.join(PATHS)}")
    naive = parser.add_mutually_exclusive_group()
    naive.add_argument("--skip-naive", action="store_true", help="不跑朴素逐团队基线")
    naive.add_argument("--force-naive", action="store_true", help="city 规模也跑朴素基线")
    parser.add_argument(
        "--naive-limit", type=int, help="朴素基线只跑前 N 个团队（冒烟测试用，不计加速比）"
    )
    parser.add_argument(
        "--one-pass",
        action="store_true",
        help="指标路径只跑一遍（带行记录的那一遍兼作计时，冒烟测试用；计时含记录开销）",
    )
    parser.add_argument("--keep-work", action="store_true", help="保留中间文件（捕获的 SQL 等）")
    parser.add_argument(
        "--show", nargs="+", type=Path, metavar="JSON", help="只打印已有报告（可并排多份）"
    )
    return parser.parse_args(argv)


def _shown_path(database: str) -> str:
    path = Path(database)
    return (
        str(path.relative_to(ROOT))
        if path.is_absolute() and path.is_relative_to(ROOT)
        else database
    )


def settings_from(args: argparse.Namespace, workdir: Path) -> Settings:
    anchor = date.fromisoformat(args.anchor)
    previous = date(anchor.year - (anchor.month == 1), (anchor.month - 2) % 12 + 1, 1)
    if args.db == "postgresql":
        name = args.pg_db or f"fdoctor_bench_{args.scale}"
        base = args.pg_admin_url.rsplit("/", 1)[0]
        url = f"{base}/{name}"
        bare, database = _libpq(url), name
    else:
        path = (args.sqlite_file or DATA_DIR / f"{args.scale}.sqlite3").resolve()
        url, bare, database = f"sqlite:///{path}", str(path), str(path)
    return Settings(
        scale=args.scale,
        dialect=args.db,
        url=url,
        bare=bare,
        database=database,
        anchor=anchor,
        seed=args.seed,
        l1_period=args.l1_period or f"{previous.year}-{previous.month:02d}",
        year=args.year or anchor.year,
        repeat=max(1, args.repeat),
        requests=max(1, args.requests),
        workdir=workdir,
        one_pass=args.one_pass,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        print_reports([json.loads(p.read_text("utf-8")) for p in args.show])
        return 0
    wanted = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(wanted) - set(PATHS)
    if unknown:
        print(
            f"未知的基准项：{'、'.join(sorted(unknown))}（可选：{','.join(PATHS)}）",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="fdoctor_city_bench_"))
    s = settings_from(args, workdir)
    report: dict[str, Any] = {
        "benchmark": "city",
        "scale": s.scale,
        "engine": s.dialect,
        "database_name": _shown_path(s.database),
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "settings": {"anchor": s.anchor, "seed": s.seed, "l1_period": s.l1_period, "year": s.year,
                     "repeat": s.repeat, "requests": s.requests, "paths": wanted,
                     "one_pass": s.one_pass},
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_info(),
        "paths": {},
    }  # fmt: skip
    try:
        print(f"准备基准数据库 {s.database} …", file=sys.stderr)
        preload()
        ensure_database(s, args.pg_admin_url, args.fresh)
        marker = read_marker(s, args.pg_admin_url)
        prepared = run_child(s, "prepare", work_prepare, s, marker, args.pg_admin_url)
        if "error" in prepared:
            raise BenchError(f"准备数据库失败：{prepared['error']}")
        report["database"] = prepared
        report["machine"]["postgresql_version"] = (
            prepared.get("server") if s.dialect == "postgresql" else _pg_version(args.pg_admin_url)
        )
        paths = report["paths"]
        if "l1" in wanted:
            print("1 L1 开启 …", file=sys.stderr)
            check = run_child(s, "l1-check", work_l1, s, True)
            app = (
                check
                if s.one_pass or "error" in check
                else run_child(s, "l1-app", work_l1, s, False)
            )
            floor = (
                run_child(s, "l1-floor", work_floor, s, "l1", ["l1"]) if "error" not in app else app
            )
            paths["l1"] = build_l1(check, app, floor)
        if "naive" in wanted:
            if args.skip_naive or (s.scale in NAIVE_SKIPPED_AT and not args.force_naive):
                paths["naive"] = {"skipped": "按参数或规模跳过（--force-naive 可强制）"}
            elif "error" in paths.get("l1", {"error": "未跑 l1"}):
                paths["naive"] = {"skipped": "朴素基线需要先跑 l1"}
            else:
                print("1 朴素逐团队基线 …", file=sys.stderr)
                naive = run_child(s, "naive", work_naive, s, args.naive_limit)
                if "error" not in naive and args.naive_limit is None:
                    naive["speedup"] = round(naive["seconds"] / paths["l1"]["metrics_s"], 2)
                if "error" not in naive:
                    naive["peak_rss_mb"] = naive["process"]["peak_rss_mb"]
                paths["naive"] = naive
        if "l3l4" in wanted:
            print("2 L3/L4 …", file=sys.stderr)
            check = run_child(s, "l3l4-check", work_l3l4, s, True)
            app = (
                check if s.one_pass or "error" in check
                else run_child(s, "l3l4-app", work_l3l4, s, False)
            )  # fmt: skip
            floor = (
                run_child(s, "l3l4-floor", work_floor, s, "l3l4", ["l3", "l4"])
                if "error" not in app else app
            )  # fmt: skip
            paths["l3"], paths["l4"] = build_l3l4(check, app, floor)
        if "settlement" in wanted:
            print("3 结算 …", file=sys.stderr)
            st = run_child(s, "settlement", work_settlement, s)
            if "error" not in st:
                runs = st["runs"]
                st.update(
                    build_s=_best(runs, "build_s"),
                    gather_inputs_s=_best(runs, "gather_inputs_s"),
                    compute_s=_best(runs, "compute_s"),
                    members=runs[0]["lines"].get("member", 0),
                    lines=runs[0]["lines"],
                    peak_rss_mb=st["process"]["peak_rss_mb"],
                )
            paths["settlement"] = st
        if "web" in wanted:
            print("5 看板与检索 …", file=sys.stderr)
            paths["web"] = run_child(s, "web", work_web, s)
    except BenchError as exc:
        report["error"] = str(exc)
        print(str(exc), file=sys.stderr)
    finally:
        if args.keep_work:
            print(f"中间文件保留在 {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report["finished_at"] = datetime.now().isoformat(timespec="seconds")
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["processes"] = s.children
    report["targets"] = summarize(report)
    report["checks"] = checks_of(report)
    if "error" in report:
        report["checks"].append({"name": "benchmark ran", "ok": False, "detail": report["error"]})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(report, ensure_ascii=False, indent=2, default=_json_default) + "\n", "utf-8"
        )
    if report["paths"]:
        print_reports([report])
    return 0 if all(c["ok"] for c in report["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
