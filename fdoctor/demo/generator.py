"""Loading the demo city (演示数据): ``load_demo`` builds it into an empty database.

The city itself is drawn by :class:`fdoctor.demo.builder.CityBuilder` and written by
:class:`fdoctor.demo.writer.TableWriter`; this module ties the two together, checks the database
is empty, records the bulk load in the audit trail and is the import path callers use (the
settings below are re-exported from here).
"""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, text

from fdoctor.auth.models import User
from fdoctor.core import dialect
from fdoctor.demo.builder import CityBuilder
from fdoctor.demo.settings import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    SCALES,
    TABLE_LABELS,
    DemoError,
    Scale,
)
from fdoctor.demo.writer import TableWriter, reset_sequences
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "SCALES",
    "TABLE_LABELS",
    "DemoError",
    "DemoSummary",
    "Scale",
    "load_demo",
]

# The builder under its old name (tests replace one of its steps).
_Builder = CityBuilder


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` inserted: rows per table and the demo logins."""

    seed: int
    anchor: date
    scale: str
    counts: dict[str, int]
    logins: list[tuple[str, str, str]]  # username, role label, org unit name
    password: str = DEMO_PASSWORD

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def load_demo(
    seed: int,
    anchor: date,
    scale: str = "demo",
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Build the demo city into an empty database and flush it; the caller commits.

    ``progress`` hears a line (in Chinese) after each county of a streamed scale."""
    if scale not in SCALES:
        raise DemoError(f"未知的演示数据规模：{scale}（可选：{'、'.join(SCALES)}）")
    _refuse_non_empty()
    builder = CityBuilder(seed, anchor, scale)
    writer = TableWriter()
    if SCALES[scale].streaming:
        writer.defer_constraints()
        started = time_module.perf_counter()

        def county_done(name: str) -> None:
            if progress:
                elapsed = time_module.perf_counter() - started
                progress(
                    f"  {name}：累计 {writer.counts['resident']:,} 名居民、"
                    f"{writer.counts['service_record']:,} 条服务记录，{elapsed:.0f} 秒"
                )

        builder.build_streaming(lambda: writer.write(builder.rows), county_done)
        writer.restore_constraints()
    else:
        builder.build()
        writer.write(builder.rows)
    reset_sequences()
    db.session.flush()
    counts = {table: writer.counts[table] for table in TABLE_LABELS}
    # Bulk rows bypass the per-row audit listener: the trail records one entry per table.
    from fdoctor.audit.baselines import record_bulk_load
    from fdoctor.audit.tables import AUDITED_TABLES

    for table, count in counts.items():
        if table in AUDITED_TABLES:
            record_bulk_load(table, count, f"演示数据 seed={seed} anchor={anchor.isoformat()}")
    # The records were copied in bulk, past the tallies' deltas: count them once.
    from fdoctor.tallies.services import rebuild_service_tallies

    rebuild_service_tallies()
    if dialect.is_postgresql():
        # Fresh tables have no statistics; without them the planner picks nested loops.
        db.session.execute(text("ANALYZE"))
    return DemoSummary(seed, anchor, scale, counts, builder.login_rows())


def _refuse_non_empty() -> None:
    units = db.session.scalar(select(func.count(OrgUnit.id))) or 0
    if units:
        raise DemoError(f"数据库中已有 {units} 个机构，演示数据只能载入空数据库")
    users = db.session.scalar(select(func.count(User.id))) or 0
    if users:
        raise DemoError(f"数据库中已有 {users} 个用户，演示数据只能载入空数据库")
