"""The keyed audit chain: truncation, forged entries, raw inserts, bulk-loaded rows, concurrency."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select, text

from fdoctor.audit.baselines import record_bulk_load
from fdoctor.audit.checkpoints import write_checkpoint
from fdoctor.audit.events import record_event
from fdoctor.audit.models import AuditBaseline, AuditCheckpoint, AuditEntry, AuditHead
from fdoctor.audit.snapshots import canonical
from fdoctor.audit.verify import verify
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.org.models import PopulationFigure
from tests.conftest import AuthActions
from tests.factories.households import make_household
from tests.factories.org import Tree, make_tree

pytestmark = pytest.mark.db


def _world() -> Resident:
    tree = make_tree()
    household = make_household(tree.team, members=2)
    db.session.commit()
    return household.residents[0]


def _entry_ids() -> list[int]:
    return list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def _problems() -> list[str]:
    result = verify(db.session)
    assert not result.ok
    return result.problems


def test_a_fresh_chain_with_a_checkpoint_verifies(app: Flask) -> None:
    _world()
    write_checkpoint(db.session)
    db.session.commit()
    result = verify(db.session)
    assert result.ok, result.problems


def test_cutting_the_newest_entries_is_caught_and_named(app: Flask) -> None:
    _world()
    ids = _entry_ids()
    db.session.execute(text("DELETE FROM audit_entry WHERE id >= :i"), {"i": ids[-3]})
    db.session.commit()
    assert any(f"末尾第 {ids[-3]} 至 {ids[-1]} 条被删除" in p for p in _problems())


def test_moving_the_head_back_after_a_cut_is_caught_by_the_checkpoint(app: Flask) -> None:
    person = _world()
    # An attacker who kept a copy of the head row can put it back after cutting the entries
    # written since; the head then looks whole, but a later checkpoint recorded more.
    old_head = db.session.execute(text("SELECT * FROM audit_head")).mappings().one()
    person.phone = "13900000001"
    db.session.commit()
    checkpoint = write_checkpoint(db.session)
    db.session.commit()
    db.session.execute(text("DELETE FROM audit_entry WHERE id > :i"), {"i": old_head["last_id"]})
    db.session.execute(
        text("UPDATE audit_head SET last_id = :i, last_hash = :h, mac = :m"),
        {"i": old_head["last_id"], "h": old_head["last_hash"], "m": old_head["mac"]},
    )
    db.session.commit()
    problems = _problems()
    assert any(
        f"在第 {old_head['last_id']} 条之后被截断：检查点 #{checkpoint.id}" in p for p in problems
    ), problems
    assert not any("链头记录被改动" in p for p in problems)  # the old head itself is genuine


def test_an_appended_entry_with_a_recomputed_plain_hash_is_caught(app: Flask) -> None:
    person = _world()
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last is not None
    fields = {
        "at": "2026-12-01 10:00:00",
        "user_id": None,
        "username": "mallory",
        "ip": None,
        "action": "update",
        "table_name": "resident",
        "row_id": str(person.id),
        "before": None,
        "after": json.dumps({"name": "伪造"}),
    }
    forged = hashlib.sha256((last.hash + "|" + canonical(fields)).encode("utf-8")).hexdigest()
    db.session.execute(
        insert(AuditEntry).values(
            id=last.id + 1,
            at=last.at,
            prev_hash=last.hash,
            hash=forged,
            **{k: v for k, v in fields.items() if k != "at"},
        )
    )
    db.session.commit()
    problems = _problems()
    assert f"审计日志第 {last.id + 1} 条被修改或伪造" in problems[0], problems


def test_a_row_inserted_with_raw_sql_is_caught_and_named(app: Flask) -> None:
    person = _world()
    row = dict(db.session.execute(select(Resident.__table__).where(Resident.id == person.id))
               .mappings().one())  # fmt: skip
    row.update(id=person.id + 100, citizen_id="11010119900307999X", name="未经登记")
    db.session.execute(insert(Resident.__table__).values(**row))
    db.session.commit()
    problems = _problems()
    assert f"resident 第 {person.id + 100} 行未经系统写入（没有任何审计记录覆盖该行）" in problems


def _bulk_figures(tree: Tree) -> list[int]:
    """Population figures written as the demo loader does: one Core insert, then the baseline."""
    rows = [
        {"id": 900 + i, "org_unit_id": tree.team.id, "county_id": tree.county.id,
         "year": 2026, "category": category, "count": 100 + i}
        for i, category in enumerate(("elderly", "hypertension", "diabetes"))
    ]  # fmt: skip
    db.session.execute(insert(PopulationFigure.__table__), rows)
    record_bulk_load("population_figure", len(rows), "测试载入")
    db.session.commit()
    return [r["id"] for r in rows]


def test_a_raw_change_to_a_bulk_loaded_row_is_caught_and_named(app: Flask) -> None:
    tree = make_tree()
    db.session.commit()
    changed, kept, gone = _bulk_figures(tree)
    assert verify(db.session).ok, verify(db.session).problems
    db.session.execute(
        text("UPDATE population_figure SET count = count + 1 WHERE id = :i"), {"i": changed}
    )
    db.session.execute(text("DELETE FROM population_figure WHERE id = :i"), {"i": gone})
    db.session.commit()
    problems = _problems()
    assert f"population_figure 第 {changed} 行被绕过系统修改（与批量载入时的内容不符）" in problems
    assert f"population_figure 第 {gone} 行被绕过系统删除（批量载入的记录）" in problems
    assert not any(f"第 {kept} 行" in p for p in problems)


def test_a_bulk_loaded_row_changed_through_the_app_is_not_reported(app: Flask) -> None:
    tree = make_tree()
    db.session.commit()
    first = _bulk_figures(tree)[0]
    figure = db.session.get(PopulationFigure, first)
    assert figure is not None
    figure.count = 555
    db.session.commit()
    assert verify(db.session).ok, verify(db.session).problems


def test_editing_the_baseline_to_match_a_changed_row_is_caught(app: Flask) -> None:
    from fdoctor.audit.baselines import digest_expression

    tree = make_tree()
    db.session.commit()
    changed = _bulk_figures(tree)[0]
    db.session.execute(text("UPDATE population_figure SET count = 1 WHERE id = :i"), {"i": changed})
    # Re-digest the changed row exactly as the loader did and write it into the baseline.
    columns = [c.name for c in PopulationFigure.__table__.columns]
    digest = digest_expression(db.session.connection(), "population_figure", columns)
    db.session.execute(
        text(
            f"UPDATE audit_baseline SET digest = (SELECT {digest} FROM population_figure t "
            f"WHERE t.id = :i) WHERE table_name = 'population_figure' AND row_id = :i"
        ),
        {"i": changed},
    )
    db.session.commit()
    problems = _problems()
    assert any("population_figure 的批量载入基线（audit_baseline）被改动" in p for p in problems)


def test_an_edited_checkpoint_is_caught(app: Flask) -> None:
    _world()
    checkpoint = write_checkpoint(db.session)
    db.session.commit()
    db.session.execute(
        text("UPDATE audit_checkpoint SET entries = entries + 5 WHERE id = :i"),
        {"i": checkpoint.id},
    )
    db.session.commit()
    assert f"审计检查点 #{checkpoint.id} 被改动或伪造（校验码不符）" in _problems()


def test_an_entry_keyed_with_another_key_is_caught(app: Flask) -> None:
    _world()
    first = _entry_ids()[0]
    key = app.config["AUDIT_KEY"]
    app.config["AUDIT_KEY"] = "another-key"
    try:
        problems = verify(db.session).problems
    finally:
        app.config["AUDIT_KEY"] = key
    assert f"审计日志第 {first} 条被修改或伪造（校验码不符，非持有审计密钥的系统写入）" in problems


def test_legacy_plain_entries_before_the_key_still_verify(app: Flask) -> None:
    """Entries written before the chain was keyed (plain SHA-256, as the migration finds them)."""
    prev = "0" * 64
    for i in (1, 2):
        fields = {"at": "2026-11-01 09:00:00", "user_id": None, "username": "old", "ip": None,
                  "action": "view_id", "table_name": "resident", "row_id": "*",
                  "before": None, "after": None}  # fmt: skip
        digest = hashlib.sha256((prev + "|" + canonical(fields)).encode("utf-8")).hexdigest()
        db.session.execute(
            text(
                "INSERT INTO audit_entry (id, at, username, action, table_name, row_id, "
                "prev_hash, hash) VALUES (:i, '2026-11-01 09:00:00', 'old', 'view_id', "
                "'resident', '*', :p, :h)"
            ),
            {"i": i, "p": prev, "h": digest},
        )
        prev = digest
    from fdoctor.audit.chain import head_mac
    from fdoctor.audit.keys import audit_key

    db.session.add(
        AuditHead(id=1, last_id=2, last_hash=prev, legacy_until=2,
                  mac=head_mac(audit_key(), 2, prev, 2))
    )  # fmt: skip
    db.session.commit()
    record_event("view_id", "resident", "*", {"count": 1})  # keyed from here on
    db.session.commit()
    assert verify(db.session).ok, verify(db.session).problems
    # A plain-hashed entry after the legacy part is refused.
    db.session.execute(text("UPDATE audit_head SET legacy_until = 3"))
    db.session.commit()
    assert any("链头记录被改动" in p for p in _problems())


def test_concurrent_appends_all_land_in_one_unbroken_chain(app: Flask) -> None:
    threads, per_thread = 6, 5
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(per_thread):
                    record_event("view_id", "resident", "*", {"thread": n, "i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert _entry_ids() == list(range(1, threads * per_thread + 1))
    head = db.session.get(AuditHead, 1)
    assert head is not None and head.last_id == threads * per_thread
    assert verify(db.session).ok, verify(db.session).problems


def test_a_failed_audit_write_fails_the_page_instead_of_showing_it(
    app: Flask, auth: AuthActions
) -> None:
    from fdoctor.org.models import OrgUnit
    from tests.factories.users import PASSWORD, make_user

    person = _world()
    make_user("docf", "doctor", db.session.get(OrgUnit, person.team_id))
    db.session.commit()
    doctor = app.test_client()
    auth.on(doctor).login("docf", PASSWORD)
    key = app.config["AUDIT_KEY"]
    app.config["AUDIT_KEY"] = ""  # the audit write now fails
    try:
        page = doctor.get(f"/households/residents/{person.id}")
    finally:
        app.config["AUDIT_KEY"] = key
    assert page.status_code == 500
    assert person.citizen_id not in page.get_data(as_text=True)
    assert "审计日志写入失败" in page.get_data(as_text=True)
    assert page.headers["X-Frame-Options"] == "DENY"
    views = select(func.count(AuditEntry.id)).where(AuditEntry.action == "view_id")
    assert db.session.scalar(views) == 0
    assert verify(db.session).ok  # nothing half-written


def test_checkpoint_command_and_daily_job_chain_their_checkpoints(app: Flask) -> None:
    from fdoctor.scheduler.jobs import run_job

    _world()
    out = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert out.exit_code == 0, out.output
    last = _entry_ids()[-1]
    assert f"审计链锚点: #{last} " in out.output
    outcome = run_job("audit_checkpoint")
    assert "审计链锚点" in outcome.note
    first, second = db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    assert second.prev_mac == first.mac and second.last_id == first.last_id == last
    assert verify(db.session).ok


def test_verify_checks_a_printed_anchor(app: Flask) -> None:
    _world()
    checkpoint = write_checkpoint(db.session)
    db.session.commit()
    line = f"审计链锚点: #{checkpoint.last_id} {checkpoint.last_hash[:16]}"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "verify", "--anchor", line]).exit_code == 0
    bad = runner.invoke(args=["audit", "verify", "--anchor", f"#{checkpoint.last_id} {'0' * 16}"])
    assert bad.exit_code == 1
    assert (
        f"审计链锚点 #{checkpoint.last_id} 与日志第 {checkpoint.last_id} 条的哈希不符" in bad.output
    )


def test_backup_stores_a_fresh_checkpoint_beside_the_file(app: Flask, tmp_path: Path) -> None:
    import shutil

    if db.engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    _world()
    output = tmp_path / "b.backup"
    result = app.test_cli_runner().invoke(args=["backup", "create", "--output", str(output)])
    assert result.exit_code == 0, result.output
    sidecar: dict[str, Any] = json.loads((tmp_path / "b.backup.audit.json").read_text("utf-8"))
    checkpoint = db.session.scalars(select(AuditCheckpoint)).one()
    assert sidecar["mac"] == checkpoint.mac and sidecar["last_id"] == _entry_ids()[-1]
    assert sidecar["anchor"] in result.output


def test_bulk_load_baseline_is_one_row_per_loaded_row(app: Flask) -> None:
    tree = make_tree()
    db.session.commit()
    ids = _bulk_figures(tree)
    stored = db.session.scalars(
        select(AuditBaseline.row_id).where(AuditBaseline.table_name == "population_figure")
    ).all()
    assert sorted(stored) == ids


def test_production_refuses_to_start_without_an_audit_key() -> None:
    from fdoctor import create_app
    from fdoctor.audit.keys import AuditKeyError

    with pytest.raises(AuditKeyError, match="AUDIT_KEY"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "AUDIT_KEY": None,
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
            }
        )


def test_development_keeps_its_audit_key_in_the_instance_folder(tmp_path: Path) -> None:
    from fdoctor.audit.keys import KEY_FILE, init_audit_key

    first = Flask("a", instance_path=str(tmp_path))
    first.config.update(ENV_NAME="development", AUDIT_KEY=None)
    init_audit_key(first)
    stored = (tmp_path / KEY_FILE).read_text("ascii").strip()
    assert len(stored) == 64 and first.config["AUDIT_KEY"] == stored
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0  # readable by the owner only
    again = Flask("b", instance_path=str(tmp_path))
    again.config.update(ENV_NAME="development", AUDIT_KEY=None)
    init_audit_key(again)
    assert again.config["AUDIT_KEY"] == stored  # the same key on the next start


def test_the_demo_city_verifies_with_a_baseline_for_every_loaded_row(demo_app: Flask) -> None:
    from fdoctor.audit.tables import AUDITED_TABLES
    from fdoctor.demo.generator import TABLE_LABELS

    with demo_app.app_context():
        result = verify(db.session)
        assert result.ok, result.problems[:5]
        loaded = sum(
            db.session.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0
            for table in TABLE_LABELS
            if table in AUDITED_TABLES
        )
        assert db.session.scalar(select(func.count()).select_from(AuditBaseline)) == loaded
        db.session.remove()
