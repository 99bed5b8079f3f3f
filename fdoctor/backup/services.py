"""Backup and restore of the whole database: SQLite online backup, PostgreSQL pg_dump/pg_restore.

SQLite uses the sqlite3 online-backup API, so a backup is consistent while the app keeps writing.
PostgreSQL uses ``pg_dump --format=custom`` (a consistent snapshot) and ``pg_restore``. Restoring
refuses a database that already holds data unless forced: a restore never mixes two datasets.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import make_url

from fdoctor.core import dialect as db_dialect


class BackupError(RuntimeError):
    """A user-facing backup/restore error in Chinese."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_target(engine: Engine) -> tuple[str, dict[str, str]]:
    """The libpq URL without the password, and the environment that carries it (PGPASSWORD).

    A command line is readable by every user of the machine (``ps``); the environment of a
    process only by its owner and root.
    """
    url = make_url(engine.url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
        url = url._replace(password=None)  # URL.set() takes None as "unchanged"
    return url.render_as_string(hide_password=False), env


def pg_dump_command(engine: Engine, output: Path) -> tuple[list[str], dict[str, str]]:
    """The pg_dump argv (never holding the password) and its environment."""
    target, env = _libpq_target(engine)
    argv = [
        _tool("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--file={output}",
        target,
    ]
    return argv, env


def pg_restore_command(engine: Engine, source: Path) -> tuple[list[str], dict[str, str]]:
    """The pg_restore argv (never holding the password) and its environment."""
    target, env = _libpq_target(engine)
    argv = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={target}",
        str(source),
    ]
    return argv, env


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份")
    return database


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"找不到 {name}，请安装 PostgreSQL 客户端工具")
    return found


def create_backup(engine: Engine, output: Path) -> BackupResult:
    """Write a consistent backup of the database behind ``engine`` to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        raise BackupError(f"备份文件已存在：{output}")
    dialect = db_dialect.name(engine)
    if dialect == "sqlite":
        src = sqlite3.connect(_sqlite_path(engine))
        dst = sqlite3.connect(str(output))
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
    elif dialect == "postgresql":
        argv, env = pg_dump_command(engine, output)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            output.unlink(missing_ok=True)
            raise BackupError(f"pg_dump 失败：{proc.stderr.strip()}")
    else:
        raise BackupError(f"不支持的数据库类型：{dialect}")
    return BackupResult(path=output, size=output.stat().st_size, sha256=_sha256(output))


def database_is_empty(engine: Engine) -> bool:
    """True when no application table holds a row (an empty schema counts as empty)."""
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.connect() as conn:
        for table in tables:
            if conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None:
                return False
    return True


def restore_backup(engine: Engine, source: Path, force: bool = False) -> None:
    """Restore ``source`` into the database behind ``engine`` (which must be empty unless forced)."""
    if not source.is_file():
        raise BackupError(f"备份文件不存在：{source}")
    if not force and not database_is_empty(engine):
        raise BackupError("目标数据库已有数据，拒绝覆盖；确认要覆盖请加 --force")
    dialect = db_dialect.name(engine)
    if dialect == "sqlite":
        engine.dispose()
        src = sqlite3.connect(str(source))
        dst = sqlite3.connect(_sqlite_path(engine))
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
    elif dialect == "postgresql":
        engine.dispose()
        _drop_all_pg(engine)
        argv, env = pg_restore_command(engine, source)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            raise BackupError(f"pg_restore 失败：{proc.stderr.strip()}")
    else:
        raise BackupError(f"不支持的数据库类型：{dialect}")


def _drop_all_pg(engine: Engine) -> None:
    """An empty target still has the schema (from migrations); pg_restore recreates it."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def table_fingerprints(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and a SHA-256 of every table's rows in primary-key order (for comparisons)."""
    from fdoctor.extensions import db

    result = {}
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode("utf-8"))
                count += 1
            result[table.name] = (count, digest.hexdigest())
    return result
