"""The floor of the metrics paths: the timed run's SQL replayed bare, its rows checked against the
recording run's digests (the replay machinery itself is ``bench/floor.py``)."""

from __future__ import annotations

import re
from typing import Any

from bench.city_harness import (
    Settings,
    load_artifact,
    timed_artifact,
)
from bench.floor import (
    Statement,
    connect_bare,
    replay,
)

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
