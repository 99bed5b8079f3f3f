"""What every importer shares: columns, problems, the outcome, bulk look-ups and the run.

An importer validates every row first and collects (row, column, problem); only a file without a
single problem is written, in the caller's transaction. Look-ups are prefetched in bulk (chunked IN
lists), never one query per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import select

from fdoctor.auth.models import User
from fdoctor.core import citizen_id as cid
from fdoctor.core import clock
from fdoctor.core.roles import RECORDERS
from fdoctor.extensions import db
from fdoctor.households.models import Household
from fdoctor.imports.reader import Row, Table, parse_bool, parse_date, parse_int

CHUNK = 500


@dataclass(frozen=True)
class Column:
    name: str  # the Chinese header
    required: bool
    help: str
    text: bool = False  # keep as text in the Excel template (IDs, codes, phones)


@dataclass(frozen=True, order=True)
class Problem:
    row: int  # spreadsheet row (header = 1); 0 for the file as a whole
    column: str
    message: str


@dataclass
class Outcome:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def fetch_in(make: Callable[[list[Any]], Any], values: Iterable[Any]) -> list[Any]:
    """Run ``make(chunk)`` (a select with ``IN chunk``) over chunks of the distinct values."""
    distinct = sorted({v for v in values if v is not None and v != ""}, key=str)
    found: list[Any] = []
    for i in range(0, len(distinct), CHUNK):
        found.extend(db.session.scalars(make(distinct[i : i + CHUNK])).all())
    return found


def households_by_code(rows: Iterable[Row]) -> dict[str, Household]:
    """The households named in the rows' 户编号 column, by code."""
    return {
        h.code: h
        for h in fetch_in(lambda chunk: select(Household).where(Household.code.in_(chunk)), (r.text("户编号") for r in rows))
    }  # fmt: skip


def users_by_username(rows: Iterable[Row]) -> dict[str, User]:
    """The accounts named in the rows' 责任医生账号 column, by username."""
    return {
        u.username: u
        for u in fetch_in(lambda chunk: select(User).where(User.username.in_(chunk)), (r.text("责任医生账号") for r in rows))
    }  # fmt: skip


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def set_changed(obj: Any, **values: Any) -> bool:
    """Assign changed attributes only; True if anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


class Importer:
    """One kind of import: its columns, row checks and writes."""

    kind: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    roles: ClassVar[frozenset[str]] = frozenset(r.value for r in RECORDERS)

    def __init__(self, user: Any, today: date | None = None) -> None:
        self.user = user
        self.today = today or clock.today()
        self.problems: list[Problem] = []
        self.outcome = Outcome(kind=self.kind)

    # -- helpers --

    def bad(self, row: Row | int, column: str, message: str) -> None:
        number = row.number if isinstance(row, Row) else row
        self.problems.append(Problem(number, column, message))

    def unique_code(
        self, row: Row, column: str, pattern: re.Pattern[str], seen: dict[str, int]
    ) -> str:
        """A required natural-key code: its format, and not repeated inside the file."""
        code = self.required_text(row, column, 40)
        if code and not pattern.match(code):
            self.bad(row, column, "只能包含字母、数字、连字符和下划线")
        if code in seen:
            self.bad(row, column, f"与第{seen[code]}行的{column}重复")
        elif code:
            seen[code] = row.number
        return code

    def required_text(self, row: Row, column: str, max_len: int) -> str:
        value = row.text(column)
        if not value:
            self.bad(row, column, "必填，不能为空")
        elif len(value) > max_len:
            self.bad(row, column, f"不能超过{max_len}个字符")
        return value

    def date_value(self, row: Row, column: str, required: bool = False) -> date | None:
        try:
            value = parse_date(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return None
        if value is None and required:
            self.bad(row, column, "必填，不能为空")
        return value

    def bool_value(self, row: Row, column: str) -> bool:
        try:
            return parse_bool(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return False

    def int_value(self, row: Row, column: str, required: bool = False) -> int | None:
        try:
            value = parse_int(row.raw(column))
        except ValueError as exc:
            self.bad(row, column, str(exc))
            return None
        if value is None and required:
            self.bad(row, column, "必填，不能为空")
        return value

    def citizen_id_text(self, row: Row, column: str) -> str:
        if is_number(row.raw(column)):
            # Excel turned the number into a float: the last digits are already lost.
            self.bad(
                row,
                column,
                "身份证号须以文本格式填写（按数字保存时后几位会丢失），请改为文本后重新导入",
            )
            return ""
        return cid.normalize(row.text(column))

    # -- the run --

    def check_headers(self, table: Table) -> bool:
        known = {c.name for c in self.columns}
        for column in self.columns:
            if column.required and column.name not in table.headers:
                self.bad(1, column.name, "缺少必填列，请使用导入模板")
        for name in table.headers:
            if name and name not in known:
                self.bad(
                    1,
                    name,
                    f"无法识别的列名（可用的列：{'、'.join(c.name for c in self.columns)}）",
                )
        if not table.rows:
            self.bad(0, "", "文件中没有数据行")
        return not self.problems

    def validate(self, table: Table) -> None:
        raise NotImplementedError

    def apply(self) -> None:
        raise NotImplementedError

    def run(self, table: Table) -> Outcome:
        """Validate every row; write only if all rows are good (the caller commits)."""
        self.outcome.rows = len(table.rows)
        if self.check_headers(table):
            self.validate(table)
        if self.problems:
            self.outcome.problems = sorted(set(self.problems))
            return self.outcome
        self.apply()
        db.session.flush()
        return self.outcome

    def count(self, created: bool, changed: bool) -> None:
        if created:
            self.outcome.created += 1
        elif changed:
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1
