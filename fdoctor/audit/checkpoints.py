"""Checkpoints of the chain (审计链锚点): keyed notes of its end, printed on locked settlement sheets
and stored with backups, so entries cut off the end are seen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fdoctor.audit.chain import GENESIS, checkpoint_mac, lock_chain
from fdoctor.audit.keys import audit_key
from fdoctor.audit.models import AuditCheckpoint, AuditEntry
from fdoctor.core import clock


def write_checkpoint(session: Session) -> AuditCheckpoint:
    """Note the chain's current end in a keyed checkpoint (审计链锚点); the caller commits."""
    key = audit_key()
    connection = session.connection()
    last_id, last_hash, _legacy, _exists = lock_chain(connection)
    entries = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.id <= last_id))
    previous = session.scalars(
        select(AuditCheckpoint.mac).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()
    prev_mac = previous or GENESIS
    at = clock.now().replace(microsecond=0)
    checkpoint = AuditCheckpoint(
        at=at,
        entries=entries or 0,
        last_id=last_id,
        last_hash=last_hash,
        prev_mac=prev_mac,
        mac=checkpoint_mac(key, at, entries or 0, last_id, last_hash, prev_mac),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()


def anchor_line(checkpoint: AuditCheckpoint | None) -> str:
    """The short line printed on locked sheets: the last entry's id and the start of its hash."""
    if checkpoint is None:
        return "审计链锚点: 无"
    return f"审计链锚点: #{checkpoint.last_id} {checkpoint.last_hash[:16]}"


def checkpoint_record(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as plain data (stored beside a backup)."""
    return {
        "checkpoint": checkpoint.id,
        "at": checkpoint.at.isoformat(sep=" "),
        "entries": checkpoint.entries,
        "last_id": checkpoint.last_id,
        "last_hash": checkpoint.last_hash,
        "prev_mac": checkpoint.prev_mac,
        "mac": checkpoint.mac,
        "anchor": anchor_line(checkpoint),
    }
