"""Column types and mixins shared by the models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from fdoctor.core import clock

# BIGINT on PostgreSQL; SQLite only auto-increments "INTEGER PRIMARY KEY".
BigId = BigInteger().with_variant(Integer(), "sqlite")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=clock.now, onupdate=clock.now, nullable=False
    )


class ScopedMixin:
    """Rows that belong to a place in the org tree.

    Every large table carries its county, institution and team ids, indexed, so the scope filter
    is one column comparison (no joins) and the table can later be partitioned by county.
    """

    @declared_attr
    def county_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr signature
        return mapped_column(ForeignKey("org_unit.id"), nullable=False, index=True)

    @declared_attr
    def institution_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey("org_unit.id"), nullable=False, index=True)

    @declared_attr
    def team_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("org_unit.id"), nullable=True, index=True)
