"""The city benchmark's harness: settings, forked children, the metrics probe, saved artifacts.

Each measured path runs in its own forked child of a parent that has imported the app (``preload``),
so the child's peak RSS (from ``wait4``) is the path's. ``metrics_probe`` times every
``compute_metrics`` call and switches the SQL capture on around it; the captured statements are
pickled as artifacts for the floor child to replay.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.floor import (
    Capture,
    recording_connect_args,
)

ROOT = Path(__file__).resolve().parents[1]


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


def json_default(value: Any) -> Any:
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
            out.write_text(json.dumps(data, ensure_ascii=False, default=json_default), "utf-8")
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
        "fdoctor.assessments.opening",
        "fdoctor.assessments.l4",
        "fdoctor.settlement.build",
        "fdoctor.settlement.sheet",
        "fdoctor.settlement.cascade",
        "fdoctor.assessments.dashboards",
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


def dbapi_connection() -> Any:
    from fdoctor.extensions import db

    return db.session.connection().connection.dbapi_connection


def opens(level: str, period: str) -> date:
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


def public_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def refuse_opened(level: str, period: str) -> None:
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


def items_of(ids: list[int]) -> int:
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
