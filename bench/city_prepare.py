"""Preparing the city benchmark's database: create it, migrate, load the demo city, open the
anchor day's assessments, and describe what is in it (rows, units, server, settings).

The database is reused afterwards; what was loaded is remembered in a marker (a comment on the
PostgreSQL database, ``<file>.bench.json`` beside the SQLite file).
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.city_harness import (
    BenchError,
    Settings,
    dbapi_connection,
    make_app,
    opens,
)
from bench.floor import (
    session_settings,
)

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


# --------------------------------------------------------------------------- preparing the database


def pg_admin(admin_url: str) -> Any:
    import psycopg

    return psycopg.connect(libpq(admin_url), autocommit=True)


def libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def read_marker(s: Settings, admin_url: str) -> dict[str, Any] | None:
    if s.dialect == "sqlite":
        path = Path(s.database + ".bench.json")
        return json.loads(path.read_text("utf-8")) if path.exists() else None
    with pg_admin(admin_url) as conn:
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

    with pg_admin(admin_url) as conn:
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

    with pg_admin(admin_url) as conn:
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
    from fdoctor.assessments.opening import open_assessments
    from fdoctor.core import clock
    from fdoctor.extensions import db

    done = []
    for level, period in (("L3", f"{s.year}-H1"), ("L4", str(s.year - 1))):
        day = opens(level, period)
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
            result = open_assessments(level, period)
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
    facts["session_settings"] = session_settings(dbapi_connection(), s.dialect)
    return facts
