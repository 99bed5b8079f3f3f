"""The request's unit of work (``fdoctor.core.unit_of_work``): one commit, or nothing kept.

The views below write a row of a small table (the confirmation page's rate-limit hits) and then
answer in each of the ways a real view does; the test reads back what the database kept.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from flask import Blueprint, Flask, flash, redirect
from sqlalchemy import event, func, insert, select

import fdoctor
from fdoctor.confirm.models import ResidentLinkHit
from fdoctor.core import unit_of_work
from fdoctor.core.unit_of_work import discard, refuse
from fdoctor.extensions import db
from fdoctor.surveys.errors import SurveyError
from tests.conftest import TestDatabase, empty_all_tables, make_app

AT = datetime(2026, 6, 15, 10, 0)


def _hit(source: str = "uow") -> None:
    db.session.add(ResidentLinkHit(source=source, at=AT))
    db.session.flush()


def _views() -> Blueprint:
    bp = Blueprint("uow_test", __name__)

    @bp.get("/uow-test/returns")
    def returns() -> object:
        _hit()
        flash("已保存", "success")
        return redirect("/uow-test/next")

    @bp.get("/uow-test/pending")
    def pending() -> object:
        db.session.add(ResidentLinkHit(source="pending", at=AT))  # not flushed by the view
        return "ok"

    @bp.get("/uow-test/core-insert")
    def core_insert() -> object:
        db.session.execute(insert(ResidentLinkHit).values(source="core", at=AT))
        return "ok"

    @bp.get("/uow-test/crashes")
    def crashes() -> object:
        _hit()
        raise RuntimeError("boom")

    @bp.get("/uow-test/refused")
    def refused() -> object:
        _hit()
        raise SurveyError("该样本已完成，不能再修改", status=409)

    @bp.get("/api/uow-test/refused")
    def api_refused() -> object:
        _hit()
        raise SurveyError("请选择回访结果")

    @bp.get("/uow-test/answers-422")
    def answers_422() -> object:
        _hit()
        return "表单有误", 422

    @bp.get("/uow-test/discards")
    def discards() -> object:
        _hit()
        count = db.session.scalar(select(func.count(ResidentLinkHit.id)))
        discard(SurveyError("回访已登记"))
        after = db.session.scalar(select(func.count(ResidentLinkHit.id)))
        return f"{count}->{after}"

    @bp.get("/uow-test/refuses")
    def refuses() -> object:
        _hit()
        return refuse("抽样已存在", "/uow-test/list", "info")

    @bp.get("/uow-test/commit-fails")
    def commit_fails() -> object:
        db.session.add(ResidentLinkHit(source="x" * 65 if _is_postgres() else None, at=AT))
        flash("已保存", "success")
        return redirect("/uow-test/next")

    @bp.get("/uow-test/reads")
    def reads() -> object:
        return str(db.session.scalar(select(func.count(ResidentLinkHit.id))))

    return bp


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture(scope="module")
def _uow_app(_empty_db: TestDatabase, _migrated_app: Flask) -> Iterator[Flask]:
    """The app with the test views, wrapped the way ``create_app`` wraps every view."""
    wired = make_app(_empty_db.url)  # same database, schema already built by _migrated_app
    wired.register_blueprint(_views())
    unit_of_work.init_app(wired)
    yield wired
    with wired.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def uow_app(_uow_app: Flask) -> Iterator[Flask]:
    with _uow_app.app_context():
        yield _uow_app
    empty_all_tables(_uow_app)


def _kept() -> list[str]:
    db.session.rollback()  # a fresh snapshot: what the requests committed
    return sorted(db.session.scalars(select(ResidentLinkHit.source)))


@contextmanager
def _commits() -> Iterator[list[int]]:
    """The commits of the database's connections while the block runs."""
    seen: list[int] = []

    def note(_conn: object) -> None:
        seen.append(1)

    event.listen(db.engine, "commit", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "commit", note)


def _flashes(client: object) -> list[tuple[str, str]]:
    with client.session_transaction() as session:  # type: ignore[attr-defined]
        return list(session.get("_flashes", []))


def test_every_view_of_the_app_is_one_unit_of_work(app: Flask) -> None:
    wrapped = {e for e, v in app.view_functions.items() if getattr(v, "_unit_of_work", False)}
    assert {"surveys.new_survey", "admin.new_user", "api.services_batch"} <= wrapped
    assert {"settlement.build", "settlement.simulate", "distribution.propose"} <= wrapped
    assert set(app.view_functions) - wrapped == {"static"}


def _view_modules(app: Flask) -> set[Path]:
    """The source files of the app's views, and every routes/views module of ``fdoctor/``."""
    root = Path(fdoctor.__file__).parent
    files = {
        Path(inspect.getsourcefile(inspect.unwrap(view)) or "")
        for endpoint, view in app.view_functions.items()
        if endpoint != "static"
    }
    files |= set(root.rglob("routes.py")) | set(root.rglob("*_routes.py"))
    files |= set(root.rglob("*_views.py")) | set(root.rglob("views/*.py"))
    return {f.resolve() for f in files}


def _commits_and_rollbacks(path: Path) -> list[int]:
    """The lines of ``path`` that call ``….commit()`` or ``….rollback()``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"commit", "rollback"}
    ]


# The writes that must outlive a refused answer (``fdoctor.core.unit_of_work``): the failed
# sign-in counters, the confirmation page's rate-limit hit, an API edit's conflict kept for
# review, a rejected import's run. Each commits once, with its reason in a comment above it.
COMMITS_ON_PURPOSE = {
    "fdoctor/auth/routes.py": 1,
    "fdoctor/confirm/routes.py": 1,
    "fdoctor/api/routes.py": 1,
    "fdoctor/imports/routes.py": 1,
}


def test_no_route_commits_or_rolls_back_but_the_documented_writes(app: Flask) -> None:
    root = Path(fdoctor.__file__).parent.parent
    found: dict[str, int] = {}
    for path in sorted(_view_modules(app)):
        calls = _commits_and_rollbacks(path)
        if not calls:
            continue
        name = path.relative_to(root).as_posix()
        found[name] = len(calls)
        lines = path.read_text(encoding="utf-8").splitlines()
        for lineno in calls:
            above = "\n".join(lines[max(0, lineno - 4) : lineno - 1])
            assert "Committed here, on purpose" in above, f"{name}:{lineno} gives no reason"
    assert found == COMMITS_ON_PURPOSE
    assert {"fdoctor/settlement/routes.py", "fdoctor/distribution/routes.py"} <= {
        path.relative_to(root).as_posix() for path in _view_modules(app)
    }


def test_a_view_that_returns_commits_once(uow_app: Flask) -> None:
    client = uow_app.test_client()
    with _commits() as commits:
        response = client.get("/uow-test/returns")
    assert response.status_code == 302
    assert commits == [1]
    assert _kept() == ["uow"]
    assert _flashes(client) == [("success", "已保存")]


def test_changes_the_view_did_not_flush_and_core_statements_are_committed(uow_app: Flask) -> None:
    client = uow_app.test_client()
    assert client.get("/uow-test/pending").status_code == 200
    assert client.get("/uow-test/core-insert").status_code == 200
    assert _kept() == ["core", "pending"]


def test_a_view_that_writes_then_raises_keeps_nothing(uow_app: Flask) -> None:
    response = uow_app.test_client().get("/uow-test/crashes")
    assert response.status_code == 500
    assert "系统内部错误" in response.get_data(as_text=True)
    assert _kept() == []


def test_an_area_refusal_becomes_its_status_and_chinese_message(uow_app: Flask) -> None:
    client = uow_app.test_client()
    page = client.get("/uow-test/refused")
    assert page.status_code == 409
    assert "该样本已完成，不能再修改" in page.get_data(as_text=True)
    api = client.get("/api/uow-test/refused")
    assert api.status_code == 400
    assert api.get_json() == {"error": "请选择回访结果", "status": 400}
    assert _kept() == []


def test_an_answer_of_400_or_above_keeps_nothing(uow_app: Flask) -> None:
    response = uow_app.test_client().get("/uow-test/answers-422")
    assert response.status_code == 422
    assert _kept() == []


def test_discard_rolls_back_at_once_and_flashes_the_reason(uow_app: Flask) -> None:
    client = uow_app.test_client()
    response = client.get("/uow-test/discards")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1->0"  # the page after it sees the database
    assert _flashes(client) == [("danger", "回访已登记")]
    assert _kept() == []


def test_refuse_redirects_and_keeps_nothing(uow_app: Flask) -> None:
    client = uow_app.test_client()
    response = client.get("/uow-test/refuses")
    assert response.status_code == 302
    assert response.headers["Location"] == "/uow-test/list"
    assert _flashes(client) == [("info", "抽样已存在")]
    assert _kept() == []


def test_a_commit_that_fails_is_the_requests_error_and_takes_back_its_success_message(
    uow_app: Flask,
) -> None:
    client = uow_app.test_client()
    response = client.get("/uow-test/commit-fails")
    assert response.status_code in {400, 500}  # the database refused the row
    assert "已保存" not in response.get_data(as_text=True)
    assert _flashes(client) == []
    assert _kept() == []


def test_a_page_that_only_reads_commits_nothing(uow_app: Flask) -> None:
    client = uow_app.test_client()
    with _commits() as commits:
        assert client.get("/uow-test/reads").get_data(as_text=True) == "0"
    assert commits == []
