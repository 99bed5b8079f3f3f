"""The settlement build at city scale on PostgreSQL, beside its floor; and a simulation step.

    .venv/bin/python bench/settlement_city.py --scale city --repeat 3 \\
        --json bench/results/2026-12-06/settlement-city-postgresql.json

The database (``fdoctor_bench_settlement_<scale>``) holds only what the settlement reads, generated
directly (``bench/settlement_data.py``): the org tree, members, published scores, configuration,
the year-end signed population and the service tallies. It is rebuilt on each run (a minute at
city scale). Then, in a forked child (its peak RSS from ``wait4``), each repeat:

* **reads**: ``reads.read_settlement`` (every query the build makes), and the **floor**: the same SQL
  statements, captured with their parameters, replayed through a bare ``psycopg`` connection
  fetching every row;
* **gather**: ``gather_inputs`` (the reads and the inputs dict built from them);
* **arithmetic**: ``settle()`` of the core alone on the typed inputs, and ``compute`` (``settle``
  and the lines as JSON-ready dicts);
* **build**: ``build_settlement`` whole, with its parts timed inside it (gather, compute, the
  canonical JSON and hash, the line insert, the audit entries); rolled back after each repeat;
* **simulation**: one what-if step on the draft (a pool's fund +10 %, a county's score, a split and
  the reserve rate changed), ``fdoctor.settlement.simulation.simulate``;
* **peak memory**: the build once more under ``tracemalloc`` (Python allocations' peak).

Before each repeat the tables the build writes are vacuumed (untimed, ``_quiesce``), as
autovacuum would between two builds on a live server. Once, after the city is generated and
before the warm-up, a ``CHECKPOINT`` is taken (``_settle_the_load``): the load writes about a
gigabyte of WAL, and the checkpoint that starts by itself afterwards would otherwise run through
the first measured repeats (seen at 13:40 on 2026-12-07: a 52-second checkpoint during the run).
Each part runs with the cyclic garbage collector paused, as ``build_settlement`` and ``simulate``
run it (``fdoctor.core.gc_pause``).

After the last build the audit chain and the generated records are verified
(``fdoctor.audit.verify``, records included), before the rollback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_report import machine_info  # noqa: E402
from bench.floor import Capture, connect_bare, replay, session_settings  # noqa: E402
from bench.settlement_data import date_of_build, generate, scale_of  # noqa: E402

YEAR = 2026
SEED = 20261206


def _pg_admin(admin_url: str) -> Any:
    import psycopg

    return psycopg.connect(admin_url, autocommit=True)


def _recreate(admin_url: str, name: str) -> None:
    from psycopg import sql

    with _pg_admin(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _make_app(url: str) -> Any:
    from fdoctor import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "AUDIT_KEY": "bench-settlement-audit-key-0123456789abcdef"}
    )


def prepare(url: str, scale: Any) -> dict[str, Any]:
    from fdoctor.extensions import db

    app = _make_app(url)
    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        counts = generate(scale, YEAR, SEED)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        db.session.remove()
    return {"rows": counts, "generate_s": round(time.perf_counter() - started, 2)}


class _Timers:
    """Wall time of named calls inside the build (module attributes wrapped for the run)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall = time.perf_counter() - started
                used = time.process_time() - cpu
                self.seconds[label] = self.seconds.get(label, 0.0) + wall
                cpu_label = label.replace("_s", "_cpu_s")
                self.seconds[cpu_label] = self.seconds.get(cpu_label, 0.0) + used

        setattr(module, name, timed)
        self._undo.append(lambda: setattr(module, name, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _simulation_overrides(inputs: dict[str, Any]) -> dict[str, Any]:
    pool = inputs["pools"][0]
    county = pool["counties"][0]
    inst = next(
        i
        for c in pool["counties"]
        for i in c["institutions"]
        if len({t["part"] for t in i["teams"]}) == 2
    )
    return {
        "funds": {str(pool["unit_id"]): pool["fund_fen"] * 11 // 10},
        "county_scores": {str(county["unit_id"]): "99.50"},
        "splits": {str(inst["unit_id"]): ["70", "30"]},
        "reserve_rate": "0.12",
    }


_WRITTEN = ("settlement_line", "settlement", "audit_baseline", "audit_entry")


def _quiesce(bare: str) -> None:
    """Before each repeat (untimed), what autovacuum does in time on a live server: the dead rows
    of the previous repeat's rolled-back build (13,000 lines, their baselines, 20 MB of sheet)
    vacuumed, so that every repeat starts from the same state instead of each one writing into
    more bloat than the last. No checkpoint: right after one, every page the build touches first
    goes whole into the write-ahead log, which no build between two checkpoints pays."""
    import psycopg

    with psycopg.connect(bare, autocommit=True) as conn:
        for table in _WRITTEN:
            conn.execute(f"VACUUM (ANALYZE) {table}")


def _settle_the_load(bare: str) -> None:
    """The generated city checkpointed before anything is measured (untimed)."""
    import psycopg

    with psycopg.connect(bare, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def measure(url: str, bare: str, repeat: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    import fdoctor.settlement.build as build
    from assessments.cascade import settle
    from fdoctor.audit.models import AuditEntry
    from fdoctor.audit.verify import verify
    from fdoctor.core import clock
    from fdoctor.core.gc_pause import paused_gc
    from fdoctor.extensions import db
    from fdoctor.settlement import inputs as inputs_module
    from fdoctor.settlement import reads
    from fdoctor.settlement.cascade import compute, settlement_inputs
    from fdoctor.settlement.models import SettlementLine

    app = _make_app(url)
    runs: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    with app.app_context(), clock.frozen(date_of_build(YEAR)):
        engine = db.engine
        settings = session_settings(
            db.session.connection().connection.dbapi_connection, "postgresql"
        )
        db.session.rollback()
        capture = Capture()
        capture.listen(engine)
        for n in range(repeat + 1):  # the first run warms the caches and is not kept
            db.session.rollback()
            _quiesce(bare)
            run: dict[str, Any] = {}
            capture.statements.clear()
            capture.active = True
            started, cpu = time.perf_counter(), time.process_time()
            with paused_gc():  # each part as the build runs it (build_settlement pauses it)
                reads.read_settlement(YEAR, reads.Missing())
            run["reads_s"] = time.perf_counter() - started
            run["reads_cpu_s"] = time.process_time() - cpu
            capture.active = False
            statements = list(capture.statements)
            conn = connect_bare("postgresql", bare, settings)
            try:
                floor = replay(conn, statements, digest=False)
            finally:
                conn.close()
            run["floor_s"] = floor.seconds
            run["statements"] = len(statements)
            run["rows_read"] = floor.rows
            db.session.rollback()

            started, cpu = time.perf_counter(), time.process_time()
            with paused_gc():
                inputs, missing = inputs_module.gather_inputs(YEAR, "settlement")
            run["gather_s"] = time.perf_counter() - started
            run["gather_cpu_s"] = time.process_time() - cpu
            assert not missing, missing[:5]
            started, cpu = time.perf_counter(), time.process_time()
            with paused_gc():
                typed = settlement_inputs(inputs)
            run["typed_inputs_s"] = time.perf_counter() - started
            run["typed_inputs_cpu_s"] = time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            with paused_gc():
                settle(typed)
            run["settle_s"] = time.perf_counter() - started
            run["settle_cpu_s"] = time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            with paused_gc():
                compute(inputs)
            run["compute_s"] = time.perf_counter() - started
            run["compute_cpu_s"] = time.process_time() - cpu
            db.session.rollback()

            timers = _Timers()
            timers.wrap(build, "gather_inputs", "gather_s")
            timers.wrap(build, "compute", "compute_s")
            timers.wrap(build, "sha256_of_canonical", "sha256_s")
            timers.wrap(build, "_write_lines", "write_lines_s")
            timers.wrap(build.baselines, "record_bulk_rows", "audit_bulk_rows_s")
            timers.wrap(build.baselines, "forget_bulk_rows", "audit_forget_rows_s")
            timers.wrap(build, "_insert_lines_pg", "insert_lines_s")
            entries_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
            started, cpu = time.perf_counter(), time.process_time()
            settlement, _changed = build.build_settlement(YEAR, "settlement", None)
            db.session.flush()
            run["build_s"] = time.perf_counter() - started
            run["build_cpu_s"] = time.process_time() - cpu
            timers.restore()
            run["build_parts"] = {k: round(v, 4) for k, v in timers.seconds.items()}
            lines = db.session.scalar(
                select(func.count(SettlementLine.id)).where(
                    SettlementLine.settlement_id == settlement.id
                )
            )
            entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
            run["lines"] = lines
            run["audit_entries_written"] = (entries or 0) - (entries_before or 0)
            run["canonical_json_mb"] = round(
                (len(settlement.inputs_json) + len(settlement.outputs_json)) / 2**20, 1
            )
            try:
                from fdoctor.settlement import simulation
            except ImportError:
                simulation = None  # type: ignore[assignment]
            if simulation is not None:
                overrides = simulation.Overrides.parse(_simulation_overrides(inputs))
                simulation.forget_bases()
                started = time.perf_counter()
                result = simulation.simulate(settlement, overrides)
                run["simulation_first_s"] = time.perf_counter() - started
                started, cpu = time.perf_counter(), time.process_time()
                result = simulation.simulate(settlement, overrides)
                run["simulation_step_s"] = time.perf_counter() - started
                run["simulation_step_cpu_s"] = time.process_time() - cpu
                run["simulation_changed_members"] = result.members_changed
                run["simulation_changed_teams"] = result.teams_changed
                run["simulation_changed_counties"] = sum(1 for r in result.counties if r.diff_fen)
                run["simulation_changed_institutions"] = sum(
                    1 for r in result.institutions if r.diff_fen
                )
            if n == repeat:
                db.session.commit()
                started = time.perf_counter()
                verified = verify(db.session)
                out["audit_verify"] = {
                    "ok": verified.ok,
                    "entries": verified.entries,
                    "problems": verified.problems[:10],
                    "seconds": round(time.perf_counter() - started, 2),
                }
                db.session.execute(
                    db.delete(SettlementLine).where(SettlementLine.settlement_id == settlement.id)
                )
            db.session.rollback()
            if n:
                runs.append({k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()})
        capture.remove(engine)

        db.session.rollback()
        tracemalloc.start()
        build.build_settlement(YEAR, "settlement", None)
        db.session.flush()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.rollback()
        out["build_tracemalloc_peak_mb"] = round(peak / 2**20, 1)
        db.session.remove()
    out["runs"] = runs
    return out


def _in_child(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    import resource

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        status = 0
        try:
            data = fn()
        except BaseException:  # noqa: BLE001 - reported to the parent
            import traceback

            data = {"error": traceback.format_exc()}
            status = 1
        with os.fdopen(write, "w") as fh:
            fh.write(json.dumps(data, default=str))
        os._exit(status)
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    _pid, _status, usage = os.wait4(pid, 0)
    data = json.loads(text) if text else {"error": "子进程异常退出"}
    data["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    data["parent_rss_mb_at_fork"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return data


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    parts = sorted({k for r in runs for k in r.get("build_parts", {})})
    result = {k: {"best": min(r[k] for r in runs), "median": statistics.median(r[k] for r in runs)}
              for k in keys}  # fmt: skip
    result["build_parts_median"] = {
        k: round(statistics.median(r["build_parts"].get(k, 0.0) for r in runs), 4) for k in parts
    }
    # The same repeat's pure arithmetic as a yardstick of the machine's speed at that moment: on
    # a shared virtual machine the same settle() takes from 0.4 s to 0.75 s within a minute.
    ratios = [r["build_s"] / r["settle_s"] for r in runs if r.get("settle_s")]
    if ratios:
        result["build_over_settle"] = {
            "best": round(min(ratios), 2),
            "median": round(statistics.median(ratios), 2),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("city", "county", "small"), default="city")
    for key in ("pools", "counties", "institutions", "stations", "teams", "members", "residents"):
        parser.add_argument(f"--{key}", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--pg-db", help="the database to (re)create; default by scale")
    args = parser.parse_args(argv)
    scale = scale_of(args.scale, {k: getattr(args, k) for k in (
        "pools", "counties", "institutions", "stations", "teams", "members", "residents")})  # fmt: skip
    name = args.pg_db or f"fdoctor_bench_settlement_{args.scale}"
    base = args.pg_admin_url.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    bare = f"{base}/{name}"
    report: dict[str, Any] = {
        "benchmark": "settlement_city",
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "scale": scale.as_json(),
        "year": YEAR,
        "repeat": args.repeat,
        "machine": machine_info(),
        "loadavg_start": os.getloadavg(),
    }
    _recreate(args.pg_admin_url, name)
    from bench.city_harness import preload

    preload()
    report["prepare"] = _in_child(lambda: prepare(url, scale))
    if "error" in report["prepare"]:
        print(report["prepare"]["error"], file=sys.stderr)
        return 1
    _settle_the_load(bare)
    report["measure"] = _in_child(lambda: measure(url, bare, args.repeat))
    report["loadavg_end"] = os.getloadavg()
    if "error" in report["measure"]:
        print(report["measure"]["error"], file=sys.stderr)
        return 1
    report["summary"] = summary(report["measure"]["runs"])
    text = json.dumps(report, ensure_ascii=False, indent=1, default=str)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", "utf-8")
    print(json.dumps(report["summary"], ensure_ascii=False, indent=1))
    print("peak RSS", report["measure"]["peak_rss_mb"], "MB; tracemalloc peak",
          report["measure"].get("build_tracemalloc_peak_mb"), "MB; audit verify",
          report["measure"].get("audit_verify"))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
