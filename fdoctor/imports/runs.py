"""Running an upload: read, validate and write one file, and keep the run with its report."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fdoctor.extensions import db
from fdoctor.imports.importers import IMPORTERS, Outcome, Problem
from fdoctor.imports.models import ImportRun
from fdoctor.imports.reader import ImportFileError, read_table


def import_file(
    kind: str, filename: str, content: bytes, user: Any, today: date | None = None
) -> Outcome:
    """Read, validate and (if every row is good) write one file. Flushes; the caller commits.

    On any problem the session is rolled back, so nothing of the file stays in it.
    """
    importer = IMPORTERS[kind](user, today)
    try:
        table = read_table(filename, content)
    except ImportFileError as exc:
        return Outcome(kind=kind, problems=[Problem(0, "", str(exc))])
    try:
        outcome = importer.run(table)
    except IntegrityError:
        # Someone changed the same rows between our checks and our writes (e.g. signed the
        # same resident): the database refused, and nothing of this file is kept.
        db.session.rollback()
        return Outcome(kind=kind, rows=len(table.rows), problems=[
            Problem(0, "", "导入时数据被他人同时修改（例如同一居民刚被签约），本次导入已全部撤销，请重新导入")
        ])  # fmt: skip
    if not outcome.ok:
        db.session.rollback()
    return outcome


def record_run(kind: str, filename: str, content: bytes, outcome: Outcome, user: Any) -> ImportRun:
    """Keep the run and its report (a rejected run writes only this row). Flushes."""
    run = ImportRun(
        user_id=user.id,
        org_unit_id=user.org_unit_id,
        kind=kind,
        filename=(filename or "")[-255:],
        file_sha256=hashlib.sha256(content).hexdigest(),
        status="imported" if outcome.ok else "rejected",
        row_count=outcome.rows,
        created_count=outcome.created,
        updated_count=outcome.updated,
        unchanged_count=outcome.unchanged,
        problems_json=json.dumps(
            [[p.row, p.column, p.message] for p in outcome.problems], ensure_ascii=False
        ),
    )
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(user: Any, limit: int = 20) -> list[ImportRun]:
    return list(
        db.session.scalars(
            select(ImportRun)
            .where(ImportRun.user_id == user.id)
            .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
            .limit(limit)
        )
    )
