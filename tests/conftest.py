"""Test fixtures: a real database per run (SQLite file or PostgreSQL).

``FDOCTOR_TEST_DB`` picks the engine: ``sqlite`` (default) or ``postgresql``. Each run creates its
own databases and drops them at the end:

* ``app``: an empty schema; every table is emptied after each test.
* ``migrated_db``: a database built only by the Alembic migrations (``test_migrations``).
* ``demo_app``: the demo city loaded once per run at a fixed anchor date, read-only for tests.
* ``auth``: signs the ``client`` in and out (``AuthActions``); the rows come from ``tests.factories``.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

DEMO_ANCHOR = date(2026, 11, 20)
DEMO_SEED = 20260101
DEMO_PASSWORD = "Demo2026"
ENGINE = os.environ.get("FDOCTOR_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "FDOCTOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def pytest_report_header(config: pytest.Config) -> str:
    return f"fdoctor test database: {ENGINE}"


class TestDatabase:
    """Create and drop one database of the configured engine."""

    __test__ = False  # not a test class

    def __init__(self, name: str, tmp_dir: Path) -> None:
        self.name = f"fdoctor_test_{RUN_ID}_{name}"
        if ENGINE == "postgresql":
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        elif ENGINE == "sqlite":
            self.url = f"sqlite:///{tmp_dir / (self.name + '.sqlite3')}"
        else:
            raise RuntimeError(f"unknown FDOCTOR_TEST_DB={ENGINE!r}")

    def create(self) -> None:
        if ENGINE == "postgresql":
            admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()

    def drop(self) -> None:
        if ENGINE == "postgresql":
            admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The ``app`` fixture keeps an app context open for the test body; without this, requests would
    reuse it and share ``g`` (Flask-Login's cached user, the CSRF token) and the test's session.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(url: str) -> Flask:
    from fdoctor import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "AUDIT_KEY": secrets.token_urlsafe(32),
        }
    )
    app.test_client_class = IsolatedClient
    return app


def migrate_up(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def create_schema(app: Flask) -> None:
    """Build the schema from the models (fast); ``test_migrations`` checks the migrations agree."""
    from fdoctor.extensions import db

    with app.app_context():
        db.create_all()


def empty_all_tables(app: Flask) -> None:
    """Delete every row, bypassing the lock triggers (they guard production, not test teardown)."""
    from fdoctor.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if ENGINE == "postgresql":
                # Replica mode skips triggers and FK checks for this transaction: plain DELETEs of
                # small tables are much cheaper than TRUNCATE's per-table file rewrite.
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                for name in tables:
                    conn.execute(sa.text(f'DELETE FROM "{name}"'))
            else:
                triggers = conn.execute(
                    sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                ).all()
                for name, _sql in triggers:
                    conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
                for name in tables:
                    conn.execute(sa.text(f'DELETE FROM "{name}"'))
                for _name, sql in triggers:
                    conn.execute(sa.text(sql))


@pytest.fixture(scope="session")
def _empty_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    database = TestDatabase("main", tmp_path_factory.mktemp("db"))
    database.create()
    yield database
    database.drop()


@pytest.fixture(scope="session")
def _migrated_app(_empty_db: TestDatabase) -> Iterator[Flask]:
    from fdoctor.extensions import db

    app = make_app(_empty_db.url)
    create_schema(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def app(_migrated_app: Flask) -> Iterator[Flask]:
    """The app on an empty, migrated database, inside an app context."""
    with _migrated_app.app_context():
        yield _migrated_app
    empty_all_tables(_migrated_app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The demo city, loaded once per run; tests must only read from it."""
    from fdoctor.demo.generator import load_demo
    from fdoctor.extensions import db

    database = TestDatabase("demo", tmp_path_factory.mktemp("demo"))
    database.create()
    demo = make_app(database.url)
    create_schema(demo)
    with demo.app_context():
        load_demo(seed=DEMO_SEED, anchor=DEMO_ANCHOR)
        db.session.commit()
        db.session.remove()
    yield demo
    with demo.app_context():
        db.session.remove()
        db.engine.dispose()
    database.drop()


@pytest.fixture()
def demo_client(demo_app: Flask) -> Iterator[FlaskClient]:
    from fdoctor.core import clock

    with demo_app.app_context(), clock.frozen(DEMO_ANCHOR):
        yield demo_app.test_client()


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


class AuthActions:
    """Sign a test client in and out, like the Flask tutorial's ``AuthActions``.

    ``login`` posts the sign-in form and returns the answer, whatever it is. ``login_as`` signs in
    as a test user (password ``tests.factories.users.PASSWORD``) on a fresh session, checks that
    it worked and returns a CSRF token for the posts that follow (the one a tablet reads from
    ``/api/v1/me`` with ``api=True``). ``on(client)`` acts on another client, ``client_for(user)``
    on a new client of the same app.
    """

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def on(self, client: FlaskClient) -> AuthActions:
        return AuthActions(client)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Any:
        token = csrf_token(self.client)
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})

    def login_as(self, user: Any, password: str | None = None, *, api: bool = False) -> str:
        """Sign in as ``user`` (a ``User`` or a user name), leaving whoever was signed in."""
        from tests.factories.users import PASSWORD

        with self.client.session_transaction() as session:
            session.clear()
        username = user if isinstance(user, str) else user.username
        response = self.login(username, password or PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if not api:
            return csrf_token(self.client, "/")
        me = self.client.get("/api/v1/me")
        assert me.status_code == 200
        return str(me.get_json()["csrf_token"])

    def client_for(
        self, user: Any, password: str | None = None, *, api: bool = False
    ) -> FlaskClient:
        """A new client of the same app, signed in as ``user``."""
        other = self.client.application.test_client()
        AuthActions(other).login_as(user, password, api=api)
        return other


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture()
def count_queries(app: Flask) -> Any:
    """``with count_queries() as counter: ...; counter.count`` — catches N+1 pages."""
    from fdoctor.extensions import db

    @contextmanager
    def _counter() -> Iterator[Any]:
        class Counter:
            count = 0

        def before(*_args: Any, **_kwargs: Any) -> None:
            Counter.count += 1

        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield Counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return _counter


@pytest.fixture()
def migrated_db(tmp_path: Path) -> Iterator[Flask]:
    """A fresh database built by ``flask db upgrade`` alone."""
    from fdoctor.extensions import db

    database = TestDatabase(f"mig{uuid.uuid4().hex[:6]}", tmp_path)
    database.create()
    app = make_app(database.url)
    migrate_up(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    database.drop()
