"""Writing the builder's rows: COPY on PostgreSQL (with foreign keys, unique constraints and
secondary indexes dropped for a streamed load and rebuilt after it), multi-row inserts on SQLite,
and the primary-key sequences moved past the ids the builder assigned."""

from __future__ import annotations

from collections import defaultdict
from operator import itemgetter
from typing import Any

from sqlalchemy import insert, text

from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember, ContractPackage, ServicePackage
from fdoctor.core import dialect
from fdoctor.demo.settings import TABLE_LABELS, Row
from fdoctor.extensions import db
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.org.models import GridCell, OrgUnit, PopulationFigure
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import (
    Complaint,
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)

MODELS: dict[str, Any] = {
    "org_unit": OrgUnit,
    "user_account": User,
    "service_package": ServicePackage,
    "grid_cell": GridCell,
    "household": Household,
    "resident": Resident,
    "pregnancy": Pregnancy,
    "population_figure": PopulationFigure,
    "contract": Contract,
    "contract_member": ContractMember,
    "contract_package": ContractPackage,
    "service_record": ServiceRecord,
    "verification_sample": VerificationSample,
    "verification_sample_item": VerificationSampleItem,
    "survey_response": SurveyResponse,
    "survey_record_check": SurveyRecordCheck,
    "complaint": Complaint,
}


class TableWriter:
    """Writes the builder's rows table by table (in foreign-key order) and empties them.

    PostgreSQL gets COPY on the session's own connection, so everything stays in the caller's
    transaction; SQLite gets multi-row Core inserts (the ORM's bulk path costs twice as long for
    the same rows, and the rows already carry their keys and every column).
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.copy = dialect.is_postgresql()
        self.deferred: list[str] = []

    def defer_constraints(self) -> None:
        """On PostgreSQL, drop the loaded tables' foreign keys, unique constraints and secondary
        indexes (not primary keys) for the load and rebuild them afterwards, as a restore does:
        one validating pass per constraint instead of a dozen index probes per copied row.
        It is all in the caller's transaction, so a failed load leaves the schema as it was."""
        if not self.copy:
            return
        tables = list(TABLE_LABELS)
        connection = db.session.connection()
        constraints = connection.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
                "FROM pg_constraint WHERE contype IN ('f', 'u') "
                "AND conrelid::regclass::text = ANY(:tables) ORDER BY contype, conname"
            ),
            {"tables": tables},
        ).all()
        indexes = connection.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            ),
            {"tables": tables},
        ).all()
        # Foreign keys first (they may lean on a unique constraint), then uniques, then indexes.
        for table, name, _, _ in constraints:
            connection.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
        # Rebuilt in the opposite order: indexes, unique constraints, then foreign keys.
        self.deferred = [definition for _, definition in indexes]
        for kind in ("u", "f"):
            self.deferred += [
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition, contype in constraints
                if contype == kind
            ]

    def restore_constraints(self) -> None:
        if not self.deferred:
            return
        connection = db.session.connection()
        connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for statement in self.deferred:
            connection.execute(text(statement))
        self.deferred = []

    def write(self, rows: dict[str, list[Row]]) -> None:
        for table in TABLE_LABELS:
            chunk = rows[table]
            if not chunk:
                continue
            if self.copy:
                self._copy(table, chunk)
            else:
                for start in range(0, len(chunk), 20_000):
                    db.session.execute(
                        insert(MODELS[table].__table__), chunk[start : start + 20_000]
                    )
            self.counts[table] += len(chunk)
            chunk.clear()

    @staticmethod
    def _copy(table: str, chunk: list[Row]) -> None:
        columns = list(chunk[0])
        known = set(MODELS[table].__table__.columns.keys())
        if not set(columns) <= known:
            raise AssertionError(f"{table}: unknown columns {set(columns) - known}")
        values = itemgetter(*columns)
        names = ", ".join(f'"{c}"' for c in columns)
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in chunk:
                copy.write_row(values(row))


def reset_sequences() -> None:
    """Primary keys were assigned here, so PostgreSQL sequences must be moved past them."""
    if not dialect.is_postgresql():
        return
    for table in TABLE_LABELS:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT COALESCE(MAX(id), 0) + 1 FROM "{table}"), false)'
            )
        )
