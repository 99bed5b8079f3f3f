"""Smoke test of bench/city.py on the small demo city, on the engine of the run.

It checks what the harness must get right, never a timing: every path is reported; the floor
replays fetch exactly the rows the app's own statements fetched; the naive per-team baseline gives
the same metric values as the grouped path; the settlement sheet adds up and a second run on the
reused database gives the same sheet (everything the first run wrote was rolled back).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import ENGINE, PG_ADMIN_URL, RUN_ID

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.db


@pytest.fixture()
def database(tmp_path: Path) -> Iterator[list[str]]:
    """The harness's database arguments; the database is dropped afterwards."""
    if ENGINE == "postgresql":
        name = f"fdoctor_test_{RUN_ID}_citybench"
        yield ["--db", "postgresql", "--pg-admin-url", PG_ADMIN_URL, "--pg-db", name]
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield ["--db", "sqlite", "--sqlite-file", str(tmp_path / "small.sqlite3")]


def run_bench(database: list[str], out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "city.py"), "--scale", "small", *database,
         "--requests", "4", "--naive-limit", "3", "--one-pass", "--json", str(out), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.exists(), proc.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert proc.returncode == 0, (proc.stderr[-4000:], report.get("checks"))
    return report, proc.stdout


def test_the_city_bench_reports_every_path_with_faithful_floors(
    database: list[str], tmp_path: Path
) -> None:
    report, table = run_bench(database, tmp_path / "first.json")
    paths = report["paths"]
    assert set(paths) == {"l1", "naive", "l3", "l4", "settlement", "web"}
    assert all("error" not in part for part in paths.values()), paths
    assert report["database"]["loaded"] == "now"
    teams = report["database"]["units"]["team"]
    institutions = report["database"]["units"]["institution"]
    counties = report["database"]["units"]["county"]

    # 1: every team opened, the floor replayed the very statements and fetched the same rows.
    l1 = paths["l1"]
    assert l1["teams"] == teams > 0 and l1["items"] > teams
    assert l1["floor"]["statements"] == l1["statements"] > 0
    assert l1["floor"]["same_sql_as_check_run"] and l1["floor"]["rows_match"]
    assert l1["floor"]["rows"] > 0 and l1["peak_rss_mb"] > 0
    # The naive baseline computes the same values one team at a time.
    naive = paths["naive"]
    assert naive["values_equal"] and naive["units_compared"] == 3
    assert naive["queries"] >= 3 * 2

    # 2: L3 for every institution, L4 for every county, each with a faithful floor.
    assert paths["l3"]["institutions"] == institutions
    assert paths["l4"]["counties"] == paths["l4"]["combined"] == counties
    assert paths["l4"]["spot_checked"] >= counties
    for level in ("l3", "l4"):
        assert paths[level]["floor"]["rows_match"], paths[level]["floor"]["mismatched"]

    # 3: the sheet goes down to every member and every level adds up.
    settlement = paths["settlement"]
    first = settlement["runs"][0]
    assert first["missing"] == [] and first["sums_ok"]
    assert settlement["lines"]["team"] == teams and settlement["members"] > 0

    # 5: dashboards and searches all answered; a phone number finds its resident.
    endpoints = paths["web"]["endpoints"]
    assert set(endpoints) == {
        "county_dashboard", "county_dashboard_json", "city_dashboard", "city_dashboard_json",
        "county_search", "city_search",
    }  # fmt: skip
    for endpoint in endpoints.values():
        assert endpoint["statuses"] == {"200": 4} and endpoint["p95_ms"] >= endpoint["p50_ms"] > 0
    for search in ("county_search", "city_search"):
        phone = endpoints[search]["found"]["phone"]
        assert phone["found"] == phone["searched"] == 1

    # The report carries the targets, the machine and the data size; the table names them.
    keys = {t["key"] for t in report["targets"]}
    assert {"l1_open_s", "l1_floor_ratio", "l1_peak_rss_mb", "l3_s", "l4_s", "settlement_s"} <= keys
    assert {f"{name}_p95_ms" for name in endpoints} <= keys
    assert all(check["ok"] for check in report["checks"])
    machine = report["machine"]
    assert machine["cpu_count"] and machine["python"]
    assert report["database"]["rows"]["service_record"] > 0 and report["database"]["server"]
    assert "L1" in table and "达标" in table

    # A second run reuses the database, and the first run left it as it found it.
    again, _ = run_bench(database, tmp_path / "second.json", "--paths", "settlement")
    assert again["database"]["loaded"] == "reused"
    assert again["paths"]["settlement"]["runs"][0]["amounts_sha256"] == first["amounts_sha256"]
    assert again["database"]["rows"] == report["database"]["rows"] | {
        "audit_entry": again["database"]["rows"]["audit_entry"]  # logins are audited
    }
