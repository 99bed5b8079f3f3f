"""The reviewer's choice (团队长或中心): open conflicts between an offline edit and the record, and
keeping the current version or taking the conflicting edit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import joinedload

from fdoctor.core import clock
from fdoctor.core.scope import scoped
from fdoctor.extensions import db
from fdoctor.records.errors import ServiceError
from fdoctor.records.models import ServiceRecord, ServiceRecordVersion
from fdoctor.records.versions import apply_data, claim_version, keep_previous


def open_conflicts(user: Any) -> Select[tuple[ServiceRecordVersion]]:
    """Open conflicts in the user's scope, oldest first, with their records."""
    return (
        scoped(ServiceRecordVersion, user)
        .where(ServiceRecordVersion.kind == "conflict", ServiceRecordVersion.status == "open")
        .options(
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.resident),
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.updated_by),
            joinedload(ServiceRecordVersion.record).joinedload(ServiceRecord.entered_by),
            joinedload(ServiceRecordVersion.author),
        )
        .order_by(ServiceRecordVersion.created_at, ServiceRecordVersion.id)
    )


def resolve_conflict(conflict: ServiceRecordVersion, choice: str, user: Any) -> None:
    """Keep the current record (``keep``) or take the conflicting edit (``take``).

    Either way both versions stay: a rejected edit stays as its conflict row, and a replaced
    current state becomes a ``previous`` row.
    """
    if conflict.kind != "conflict" or conflict.status != "open":
        raise ServiceError("该冲突已经处理过了")
    now = clock.now()
    if choice == "keep":
        conflict.status = "rejected"
    elif choice == "take":
        record = conflict.record
        current = record.version
        if not claim_version(record.id, current, user.id):
            raise ServiceError("该记录刚被修改，请刷新页面后重新选择")
        db.session.refresh(record)
        keep_previous(record, version=current, author_id=user.id, authored_at=now)
        apply_data(record, conflict.data, user.id)
        conflict.status = "accepted"
    else:
        raise ServiceError("请选择保留当前版本或采用冲突版本", status=400)
    conflict.resolved_by_id = user.id
    conflict.resolved_at = now
    db.session.flush()
