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

This file is the command line; the work is in ``bench/city_*.py``: ``city_harness`` (settings,
forked children, the metrics probe, artifacts), ``city_prepare`` (the database),
``city_assessments`` (paths 1 and 2), ``city_floor`` (the floors), ``city_settlement`` (path 3),
``city_web`` (path 5) and ``city_report`` (machine, targets, checks, the table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_assessments import work_l1, work_l3l4, work_naive  # noqa: E402
from bench.city_floor import work_floor  # noqa: E402
from bench.city_harness import BenchError, Settings, json_default, preload, run_child  # noqa: E402
from bench.city_prepare import (  # noqa: E402
    ensure_database,
    libpq,
    read_marker,
    work_prepare,
)
from bench.city_report import (  # noqa: E402
    best,
    build_l1,
    build_l3l4,
    checks_of,
    machine_info,
    pg_version,
    print_reports,
    summarize,
)
from bench.city_settlement import work_settlement  # noqa: E402
from bench.city_web import work_web  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_ANCHOR = "2026-11-20"
DEFAULT_SEED = 20260101
DATA_DIR = ROOT / "bench" / "data"
PATHS = ("l1", "naive", "l3l4", "settlement", "web")
# Scales at which the naive baseline is skipped unless forced (one query set per team is too slow).
NAIVE_SKIPPED_AT = ("city",)


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
        bare, database = libpq(url), name
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
    report = start_report(s, wanted)
    try:
        print(f"准备基准数据库 {s.database} …", file=sys.stderr)
        prepare(s, args, report)
        run_paths(s, args, wanted, report["paths"])
    except BenchError as exc:
        report["error"] = str(exc)
        print(str(exc), file=sys.stderr)
    finally:
        if args.keep_work:
            print(f"中间文件保留在 {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    finish_report(s, report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(report, ensure_ascii=False, indent=2, default=json_default) + "\n", "utf-8"
        )
    if report["paths"]:
        print_reports([report])
    return 0 if all(c["ok"] for c in report["checks"]) else 1


def start_report(s: Settings, wanted: list[str]) -> dict[str, Any]:
    return {
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


def prepare(s: Settings, args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Import the app, create/migrate/load the database in a child; the facts go in the report."""
    preload()
    ensure_database(s, args.pg_admin_url, args.fresh)
    marker = read_marker(s, args.pg_admin_url)
    prepared = run_child(s, "prepare", work_prepare, s, marker, args.pg_admin_url)
    if "error" in prepared:
        raise BenchError(f"准备数据库失败：{prepared['error']}")
    report["database"] = prepared
    report["machine"]["postgresql_version"] = (
        prepared.get("server") if s.dialect == "postgresql" else pg_version(args.pg_admin_url)
    )


def run_paths(
    s: Settings, args: argparse.Namespace, wanted: list[str], paths: dict[str, Any]
) -> None:
    if "l1" in wanted:
        print("1 L1 开启 …", file=sys.stderr)
        paths["l1"] = bench_l1(s)
    if "naive" in wanted:
        paths["naive"] = bench_naive(s, args, paths.get("l1", {"error": "未跑 l1"}))
    if "l3l4" in wanted:
        print("2 L3/L4 …", file=sys.stderr)
        paths["l3"], paths["l4"] = bench_l3l4(s)
    if "settlement" in wanted:
        print("3 结算 …", file=sys.stderr)
        paths["settlement"] = bench_settlement(s)
    if "web" in wanted:
        print("5 看板与检索 …", file=sys.stderr)
        paths["web"] = run_child(s, "web", work_web, s)


def bench_l1(s: Settings) -> dict[str, Any]:
    check = run_child(s, "l1-check", work_l1, s, True)
    app = check if s.one_pass or "error" in check else run_child(s, "l1-app", work_l1, s, False)
    floor = run_child(s, "l1-floor", work_floor, s, "l1", ["l1"]) if "error" not in app else app
    return build_l1(check, app, floor)


def bench_naive(s: Settings, args: argparse.Namespace, l1: dict[str, Any]) -> dict[str, Any]:
    if args.skip_naive or (s.scale in NAIVE_SKIPPED_AT and not args.force_naive):
        return {"skipped": "按参数或规模跳过（--force-naive 可强制）"}
    if "error" in l1:
        return {"skipped": "朴素基线需要先跑 l1"}
    print("1 朴素逐团队基线 …", file=sys.stderr)
    naive = run_child(s, "naive", work_naive, s, args.naive_limit)
    if "error" not in naive and args.naive_limit is None:
        naive["speedup"] = round(naive["seconds"] / l1["metrics_s"], 2)
    if "error" not in naive:
        naive["peak_rss_mb"] = naive["process"]["peak_rss_mb"]
    return naive


def bench_l3l4(s: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    check = run_child(s, "l3l4-check", work_l3l4, s, True)
    app = (
        check if s.one_pass or "error" in check
        else run_child(s, "l3l4-app", work_l3l4, s, False)
    )  # fmt: skip
    floor = (
        run_child(s, "l3l4-floor", work_floor, s, "l3l4", ["l3", "l4"])
        if "error" not in app else app
    )  # fmt: skip
    return build_l3l4(check, app, floor)


def bench_settlement(s: Settings) -> dict[str, Any]:
    st = run_child(s, "settlement", work_settlement, s)
    if "error" not in st:
        runs = st["runs"]
        st.update(
            build_s=best(runs, "build_s"),
            gather_inputs_s=best(runs, "gather_inputs_s"),
            compute_s=best(runs, "compute_s"),
            members=runs[0]["lines"].get("member", 0),
            lines=runs[0]["lines"],
            peak_rss_mb=st["process"]["peak_rss_mb"],
        )
    return st


def finish_report(s: Settings, report: dict[str, Any]) -> None:
    """The end of the run: load, children, targets with verdicts and the checks."""
    report["finished_at"] = datetime.now().isoformat(timespec="seconds")
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["processes"] = s.children
    report["targets"] = summarize(report)
    report["checks"] = checks_of(report)
    if "error" in report:
        report["checks"].append({"name": "benchmark ran", "ok": False, "detail": report["error"]})


if __name__ == "__main__":
    sys.exit(main())
