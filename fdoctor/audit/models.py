"""The audit trail (审计日志): append-only, hash-chained entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fdoctor.core.types import BigId
from fdoctor.extensions import db


class AuditEntry(db.Model):
    """Who changed what, when, from where, with the values before and after.

    ``hash`` = SHA-256 of the previous entry's hash and this entry's canonical content, so changing
    or removing any entry breaks the chain from that point on (``flask audit verify``).
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
