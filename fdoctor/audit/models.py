"""The audit trail (审计日志): append-only, hash-chained entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fdoctor.core.types import BigId
from fdoctor.extensions import db


class AuditEntry(db.Model):
    """Who changed what, when, from where, with the values before and after.

    ``hash`` = HMAC-SHA256, under the audit key (kept outside the database), of the previous
    entry's hash and this entry's canonical content, so changing or removing any entry breaks the
    chain from that point on, and nobody without the key can append a valid entry
    (``flask audit verify``). Entries written before the chain was keyed (up to
    ``AuditHead.legacy_until``) carry plain SHA-256.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_table_row", "table_name", "row_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | view_id
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(db.Model):
    """Where the chain ends (one row, ``id`` 1), keyed so that it cannot be moved back.

    Updated with every append under the chain lock, which it also is: the append's first statement
    updates this row, so writers queue here (a row lock on PostgreSQL, the writer lock on SQLite)
    before they read the chain's end. ``legacy_until``: entries up to this id were written before
    the chain was keyed and are checked with plain SHA-256.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
    legacy_until: Mapped[int] = mapped_column(BigId, default=0)
    mac: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(db.Model):
    """A keyed note of the chain's head at a moment (审计链锚点), kept outside the chain.

    Written daily by the scheduler and by ``flask audit checkpoint``; printed on locked settlement
    sheets and stored with backups, so a copy exists outside the database. Each checkpoint's
    ``mac`` covers the previous checkpoint's, so removing one in the middle is seen.
    """

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    entries: Mapped[int] = mapped_column(BigId)
    last_id: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64), unique=True)


class AuditBaseline(db.Model):
    """The content digest of one row written in bulk (a ``bulk_load`` entry's rows).

    ``digest`` is computed by the database from the row's columns right after the load; the
    ``bulk_load`` entry (keyed, chained) holds the count and an order-free sum of the digests of
    its rows, so the baseline cannot be edited to match a changed row: the sums over a table's
    baseline rows must equal the sums its ``bulk_load`` entries recorded.
    """

    __tablename__ = "audit_baseline"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))
