"""Import runs (导入记录): who imported which file, the outcome, and the row-by-row report."""

from __future__ import annotations

import json

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fdoctor.core.types import BigId, TimestampMixin
from fdoctor.extensions import db

RUN_STATUSES = {"imported": "已导入", "rejected": "未导入（有错误）"}


class ImportRun(TimestampMixin, db.Model):
    """One upload. A rejected run wrote nothing but this row, which keeps its report."""

    __tablename__ = "import_run"
    __table_args__ = (Index("ix_import_run_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    problems_json: Mapped[str] = mapped_column(Text, default="[]")  # [[row, column, message], ...]

    user = relationship("User")

    @property
    def status_label(self) -> str:
        return RUN_STATUSES.get(self.status, self.status)

    @property
    def problems(self) -> list[tuple[int, str, str]]:
        return [(int(r), str(c), str(m)) for r, c, m in json.loads(self.problems_json or "[]")]
