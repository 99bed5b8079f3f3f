"""The city benchmark's report: the machine, the targets and their verdicts, the checks that must
hold whatever the timings, and the table (one value column per report)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.city_harness import ROOT
from bench.city_prepare import pg_admin

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


def pg_version(admin_url: str) -> str | None:
    """The PostgreSQL server's version, if one answers (SQLite runs report it too)."""
    try:
        with pg_admin(admin_url + "?connect_timeout=3") as conn:
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


def best(runs: list[dict[str, Any]], key: str) -> float:
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
    metrics_s = best(runs, "metrics_s")
    floor_s = floor["l1"]["seconds"]
    return {
        "period": app["period"],
        "teams": runs[0]["created"],
        "items": runs[0]["items"],
        "statements": runs[0]["statements"],
        "metrics_s": metrics_s,
        "open_s": best(runs, "open_s"),
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
        "open_s": best(l3_runs, "open_s"),
        "metrics_s": best(l3_runs, "metrics_s"),
        "floor_s": floor["l3"]["seconds"],
        "floor_ratio": round(best(l3_runs, "metrics_s") / floor["l3"]["seconds"], 3)
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
        "total_s": best(l4_runs, "total_s"),
        "open_s": best(l4_runs, "open_s"),
        "draw_s": best(l4_runs, "draw_s"),
        "compute_l4_s": best(l4_runs, "compute_l4_s"),
        "metrics_s": best(l4_runs, "metrics_s"),
        "floor_s": floor["l4"]["seconds"],
        "floor_ratio": round(best(l4_runs, "metrics_s") / floor["l4"]["seconds"], 3)
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

    return [
        *_l1_rows(p, verdict),
        *_l3l4_rows(p, verdict),
        *_settlement_rows(p, verdict),
        *_web_rows(p, verdict),
    ]


def _l1_rows(p: dict[str, Any], verdict: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """The table lines of the L1 open and the naive baseline."""
    rows: list[tuple[str, str, str]] = []
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
    return rows


def _l3l4_rows(p: dict[str, Any], verdict: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """The table lines of L3 and L4."""
    rows: list[tuple[str, str, str]] = []
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
    return rows


def _settlement_rows(
    p: dict[str, Any], verdict: Callable[[str], str]
) -> list[tuple[str, str, str]]:
    """The table lines of the settlement."""
    rows: list[tuple[str, str, str]] = []
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
    return rows


def _web_rows(p: dict[str, Any], verdict: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """The table lines of the dashboards and searches."""
    rows: list[tuple[str, str, str]] = []
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
