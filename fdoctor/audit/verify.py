"""``flask audit verify``: walk the chain, its head and checkpoints, and compare the live records
with their last entries and bulk-load baselines; every problem is named (in Chinese)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, select, text
from sqlalchemy.orm import Session

from fdoctor.audit import snapshots
from fdoctor.audit.baselines import baseline_sums, digest_expression
from fdoctor.audit.chain import GENESIS, HEAD_ID, checkpoint_mac, entry_hash, head_mac
from fdoctor.audit.keys import audit_key
from fdoctor.audit.models import AuditBaseline, AuditCheckpoint, AuditEntry, AuditHead
from fdoctor.audit.snapshots import canonical, clean, jsonable, row_snapshot
from fdoctor.audit.tables import DIGEST_PREFIX, audited_model_tables


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problems: list[str]


_MAX_PROBLEMS = 200
_MAX_ROWS_NAMED = 50  # rows named per table and kind of problem; the rest are counted


def verify(
    session: Session, check_records: bool = True, anchors: Iterable[str] = ()
) -> VerifyResult:
    """Walk the chain and its head and checkpoints; compare live records; name every problem.

    Reported: an entry changed, removed or forged (its keyed hash or its link is wrong), entries
    cut off the end (the head or a checkpoint records more), an edited head or checkpoint, and,
    unless ``check_records`` is off: a record whose current values differ from its last audited
    ``after`` or from its bulk-load baseline, a record deleted or inserted behind the app's back
    (no entry and no baseline covers it). ``anchors`` are lines printed on sheets
    (``#<id> <16 hex>``) to check against the chain.
    """
    key = audit_key()
    problems: list[str] = []
    head = session.get(AuditHead, HEAD_ID)
    legacy_until = head.legacy_until if head is not None else 0
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
    wanted = {c.last_id for c in checkpoints} | _anchor_ids(anchors, problems)
    seen: dict[int, tuple[str, int]] = {}  # wanted id -> (hash, entries up to it)
    prev = GENESIS
    last_id = 0
    count = 0
    latest: dict[tuple[str, str], str | None] = {}
    loads: dict[str, list[dict[str, Any]]] = {}
    result = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    for entry in result:
        count += 1
        fields = {
            "at": jsonable(entry.at),
            "user_id": entry.user_id,
            "username": entry.username,
            "ip": entry.ip,
            "action": entry.action,
            "table_name": entry.table_name,
            "row_id": entry.row_id,
            "before": entry.before,
            "after": entry.after,
        }
        if entry.prev_hash != prev:
            problems.append(
                f"审计日志第 {entry.id} 条之前的记录被删除或篡改（链断裂：前序哈希不符）"
            )
        elif entry_hash(prev, fields, None if entry.id <= legacy_until else key) != entry.hash:
            problems.append(
                f"审计日志第 {entry.id} 条被修改或伪造（校验码不符，非持有审计密钥的系统写入）"
            )
        prev = entry.hash
        last_id = entry.id
        if entry.id in wanted:
            seen[entry.id] = (entry.hash, count)
        if entry.action in {"create", "update", "delete"}:
            latest[(entry.table_name, entry.row_id)] = entry.after
        elif entry.action in {"bulk_load", "bulk_delete"} and entry.after:
            load = json.loads(entry.after)
            if entry.action == "bulk_delete":  # baselines removed with their rows
                counted = load.get("baseline") or {}
                load["baseline"] = {k: -int(counted.get(k, 0)) for k in ("count", "high", "low")}
            loads.setdefault(entry.table_name, []).append(load)
        if len(problems) >= _MAX_PROBLEMS:
            break
    problems.extend(_check_head(key, head, count, last_id, prev))
    problems.extend(_check_checkpoints(key, checkpoints, seen, last_id))
    problems.extend(_check_anchors(anchors, seen))
    if check_records:
        problems.extend(_compare_records(session, latest))
        problems.extend(_check_baselines(session, loads, latest))
        problems.extend(_uncovered_rows(session))
    return VerifyResult(ok=not problems, entries=count, problems=problems)


def _check_head(
    key: bytes, head: AuditHead | None, count: int, last_id: int, last_hash: str
) -> list[str]:
    if head is None:
        return ["审计日志链头记录（audit_head）缺失：无法确认日志末尾未被删除"] if count else []
    problems = []
    if head.mac != head_mac(key, head.last_id, head.last_hash, head.legacy_until):
        problems.append("审计日志链头记录被改动（校验码不符）")
    if head.last_id > last_id:
        first = last_id + 1
        problems.append(
            f"审计日志末尾第 {first} 至 {head.last_id} 条被删除（截断：链头记录最后一条为第 "
            f"{head.last_id} 条，现存最后一条为第 {last_id} 条）"
        )
    elif head.last_id < last_id:
        problems.append(
            f"审计日志第 {head.last_id + 1} 至 {last_id} 条不是经系统追加的（链头只记录到第 "
            f"{head.last_id} 条）"
        )
    elif head.last_hash != last_hash:
        problems.append(f"审计日志第 {last_id} 条与链头记录的哈希不符")
    return problems


def _check_checkpoints(
    key: bytes, checkpoints: list[AuditCheckpoint], seen: dict[int, tuple[str, int]], last_id: int
) -> list[str]:
    problems = []
    prev_mac = GENESIS
    for cp in checkpoints:
        expected = checkpoint_mac(key, cp.at, cp.entries, cp.last_id, cp.last_hash, cp.prev_mac)
        if cp.mac != expected:
            problems.append(f"审计检查点 #{cp.id} 被改动或伪造（校验码不符）")
            prev_mac = cp.mac
            continue
        if cp.prev_mac != prev_mac:
            problems.append(f"审计检查点 #{cp.id} 之前的检查点被删除或篡改")
        prev_mac = cp.mac
        if cp.last_id == 0:
            continue
        found = seen.get(cp.last_id)
        if found is None:
            if cp.last_id > last_id:
                problems.append(
                    f"审计日志在第 {last_id} 条之后被截断：检查点 #{cp.id}（{cp.at:%Y-%m-%d %H:%M}）"
                    f"记录到第 {cp.last_id} 条"
                )
            else:
                problems.append(f"审计日志第 {cp.last_id} 条（检查点 #{cp.id} 记录的末尾）被删除")
        elif found[0] != cp.last_hash:
            problems.append(f"审计日志第 {cp.last_id} 条与检查点 #{cp.id} 记录的哈希不符")
        elif found[1] != cp.entries:
            problems.append(
                f"审计日志第 {cp.last_id} 条及以前现有 {found[1]} 条，检查点 #{cp.id} 记录为 "
                f"{cp.entries} 条"
            )
    return problems


def _anchor_ids(anchors: Iterable[str], problems: list[str]) -> set[int]:
    ids = set()
    for anchor in anchors:
        parsed = _parse_anchor(anchor)
        if parsed is None:
            problems.append(f"无法识别的审计链锚点：{anchor}")
        else:
            ids.add(parsed[0])
    return ids


def _parse_anchor(anchor: str) -> tuple[int, str] | None:
    import re

    match = re.search(r"#(\d+)\s+([0-9a-f]{16})", anchor)
    return (int(match.group(1)), match.group(2)) if match else None


def _check_anchors(anchors: Iterable[str], seen: dict[int, tuple[str, int]]) -> list[str]:
    problems = []
    for anchor in anchors:
        parsed = _parse_anchor(anchor)
        if parsed is None:
            continue
        found = seen.get(parsed[0])
        if found is None:
            problems.append(f"审计链锚点 #{parsed[0]} 所指的日志已不存在（被截断或删除）")
        elif not found[0].startswith(parsed[1]):
            problems.append(f"审计链锚点 #{parsed[0]} 与日志第 {parsed[0]} 条的哈希不符")
    return problems


def _check_baselines(
    session: Session,
    loads: dict[str, list[dict[str, Any]]],
    latest: dict[tuple[str, str], str | None],
) -> list[str]:
    """Bulk-loaded rows: the baseline sums match the keyed entries, and each row still has the
    digest it was loaded with (unless a later entry records a change through the app)."""
    from fdoctor.extensions import db

    connection = session.connection()
    problems = []
    baselined = set(session.scalars(select(AuditBaseline.table_name).distinct()).all())
    for table_name in sorted(set(loads) | baselined):
        recorded = [load.get("baseline") or {} for load in loads.get(table_name, [])]
        expected = (
            sum(int(r.get("count", 0)) for r in recorded),
            sum(int(r.get("high", 0)) for r in recorded),
            sum(int(r.get("low", 0)) for r in recorded),
        )
        if baseline_sums(connection, table_name) != expected:
            problems.append(
                f"{table_name} 的批量载入基线（audit_baseline）被改动：与批量载入审计记录不符"
            )
        table = db.metadata.tables.get(table_name)
        if table is None or not loads.get(table_name):
            continue
        columns = loads[table_name][0].get("columns") or [c.name for c in table.columns]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            problems.append(f"{table_name} 缺少批量载入时的列 {missing}，无法比对基线")
            continue
        digest = digest_expression(connection, table_name, columns)
        rows = connection.execute(
            text(
                f"SELECT b.row_id, t.id FROM audit_baseline b "
                f'LEFT JOIN "{table_name}" t ON t.id = b.row_id '
                f"WHERE b.table_name = :t AND (t.id IS NULL OR {digest} <> b.digest) "
                f"ORDER BY b.row_id"
            ),
            {"t": table_name},
        ).all()
        changed = [r[0] for r in rows if (table_name, str(r[0])) not in latest and r[1] is not None]
        gone = [r[0] for r in rows if (table_name, str(r[0])) not in latest and r[1] is None]
        problems.extend(_name_rows(table_name, changed, "被绕过系统修改（与批量载入时的内容不符）"))
        problems.extend(_name_rows(table_name, gone, "被绕过系统删除（批量载入的记录）"))
    return problems


def _uncovered_rows(session: Session) -> list[str]:
    """Rows of audited tables that no entry and no baseline covers: written behind the app."""
    connection = session.connection()
    problems = []
    for table in audited_model_tables():
        if "id" not in table.columns:
            continue
        rows = connection.execute(
            text(
                f'SELECT t.id FROM "{table.name}" t WHERE NOT EXISTS (SELECT 1 FROM '
                f"audit_baseline b WHERE b.table_name = :t AND b.row_id = t.id) AND NOT EXISTS "
                f"(SELECT 1 FROM audit_entry e WHERE e.table_name = :t "
                f"AND e.row_id = CAST(t.id AS VARCHAR(64))) ORDER BY t.id"
            ),
            {"t": table.name},
        ).scalars()
        problems.extend(
            _name_rows(table.name, list(rows), "未经系统写入（没有任何审计记录覆盖该行）")
        )
    return problems


def _name_rows(table: str, ids: list[Any], what: str) -> list[str]:
    named = [f"{table} 第 {row_id} 行{what}" for row_id in ids[:_MAX_ROWS_NAMED]]
    if len(ids) > _MAX_ROWS_NAMED:
        named.append(f"{table} 另有 {len(ids) - _MAX_ROWS_NAMED} 行{what}")
    return named


def _compare_records(session: Session, latest: dict[tuple[str, str], str | None]) -> list[str]:
    from fdoctor.extensions import db

    problems = []
    by_table: dict[str, dict[str, str | None]] = {}
    for (table, row_id), after in latest.items():
        by_table.setdefault(table, {})[row_id] = after
    for table_name, rows in sorted(by_table.items()):
        table = db.metadata.tables.get(table_name)
        if table is None:
            continue
        pk = list(table.primary_key.columns)[0]
        decimals = _decimal_columns(table)
        ids = [int(r) if r.isdigit() else r for r in rows]
        current = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for row in session.execute(select(table).where(pk.in_(chunk))).mappings():
                current[str(row[pk.name])] = canonical(row_snapshot(dict(row), table_name))
        for row_id, after in sorted(rows.items()):
            live = current.get(row_id)
            if after is None and live is not None:
                problems.append(
                    f"{table_name} 第 {row_id} 行已被删除的记录又出现了（未经系统写入）"
                )
            elif after is not None and live is None:
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统删除")
            elif (
                after is not None
                and live != after
                and not _same_row(after, live, decimals)
                and not _same_digested(table_name, after, live, decimals)
            ):
                problems.append(f"{table_name} 第 {row_id} 行被绕过系统修改（与审计记录不符）")
    return problems


def _decimal_columns(table: Any) -> set[str]:
    """Columns holding fixed-point numbers (``Numeric`` but not integers)."""
    return {
        column.name
        for column in table.columns
        if isinstance(column.type, Numeric) and not isinstance(column.type, Integer)
    }


def _same_digested(table: str, after: str, live: str | None, decimals: set[str]) -> bool:
    """Whether an entry written before a column was ``DIGESTED`` (it holds the whole value)
    describes the live row, whose snapshot holds the value's digest."""
    if table not in snapshots.DIGESTED or live is None:
        return False
    audited = json.loads(after)
    columns = snapshots.DIGESTED[table]
    if not any(
        isinstance(audited.get(c), str) and not audited[c].startswith(DIGEST_PREFIX)
        for c in columns
    ):
        return False
    normalised = canonical(clean(table, audited))
    return normalised == live or _same_row(normalised, live, decimals)


def _same_row(after: str, live: str | None, decimals: set[str]) -> bool:
    """Whether the audited snapshot and the live row hold the same values, numbers compared by
    value: an entry written from the values the app gave (``0.35``) and the row read back from a
    NUMERIC(14, 4) column (``0.3500``) are the same row."""
    if live is None or not decimals:
        return False
    audited, current = json.loads(after), json.loads(live)
    if audited.keys() != current.keys():
        return False
    for key, value in audited.items():
        other = current[key]
        if value == other:
            continue
        if key not in decimals or value is None or other is None:
            return False
        try:
            if Decimal(str(value)) != Decimal(str(other)):
                return False
        except ArithmeticError:
            return False
    return True
