"""Extension singletons, bound to the app in ``create_app``."""

import sqlite3

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _session_settings(dbapi_connection: object, _record: object) -> None:
    """Per-connection settings.

    SQLite: enforce foreign keys, write-ahead log for concurrent readers, wait on locks.

    PostgreSQL: no JIT compilation. The metrics statements (grouped scans with correlated
    subqueries) have plan costs far above ``jit_above_cost``, and compiling them took longer than
    running them (3.5 s of JIT for a 0.4 s statement at county scale, again in every parallel
    worker); the app's other statements are short and gain nothing from it either.
    ``work_mem`` 64 MB (the server default is 4 MB): at city scale the metrics' sets of residents
    (a year's elderly checkups, the signed members) fit in memory and are hashed once instead of
    probed per resident. A sort or hash node may take that much (twice for hashes) in each of the
    statement's processes; a few statements run at a time, far below the server's memory.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        if type(dbapi_connection).__module__.startswith("psycopg"):
            dbapi_connection.execute("SET jit = off")  # type: ignore[attr-defined]
            dbapi_connection.execute("SET work_mem = '64MB'")  # type: ignore[attr-defined]
            dbapi_connection.commit()  # type: ignore[attr-defined]
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
