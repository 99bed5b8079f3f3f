"""Smoke test of bench/settlement_city.py at its small scale (PostgreSQL: the benchmark measures
the production database).

It checks what the benchmark must get right, never a timing: the generated data has every input
the build needs (no missing input), the build, the arithmetic, the floor and a simulation step
are measured, and the audit trail verifies after the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ENGINE, PG_ADMIN_URL, RUN_ID

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.db


@pytest.mark.skipif(ENGINE != "postgresql", reason="the settlement benchmark runs on PostgreSQL")
def test_the_settlement_benchmark_builds_simulates_and_verifies(tmp_path: Path) -> None:
    name = f"fdoctor_test_{RUN_ID}_settlebench"
    out = tmp_path / "settlement.json"
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "settlement_city.py"), "--scale", "small",
             "--repeat", "1", "--pg-admin-url", PG_ADMIN_URL.replace("+psycopg", ""),
             "--pg-db", name,
             "--json", str(out)],
            capture_output=True, text=True, timeout=900, cwd=ROOT,
        )  # fmt: skip
    finally:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    report = json.loads(out.read_text())
    summary = report["summary"]
    for key in ("build_s", "simulation_step_s"):
        assert summary[key]["best"] > 0, key
    assert report["measure"]["audit_verify"]["ok"] is True
    assert report["measure"]["audit_verify"]["problems"] == []
