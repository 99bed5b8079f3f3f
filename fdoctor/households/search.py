"""Finding residents (居民检索) at city scale, and the search page's filter.

What a clerk types is recognised first, so that every lookup is an index lookup inside the scope:

* 18 characters (17 digits and a digit or X): the citizen ID, exactly;
* 1 to 6 digits (the last may be X): the end of the citizen ID (身份证后几位);
* 7 or more digits (dashes allowed): the start of a resident's or a household's phone number;
* anything else: the start of a name, part of a household's address (3 characters or more), part
  of a grid cell's name, or a household code.

Each kind is one or more small single-table statements ("arms") returning at most
:data:`SEARCH_LIMIT` + 1 keys: a term that matches more is too broad to page through, and the page
says so and asks for a longer one. Households found by address, grid cell or phone bring their
residents in one more statement. The keys are merged and sorted here (a family stays together)
and only the page's rows are loaded; no exact count of a large result is ever taken.

Plans (see :func:`_fetch`): rows of one county or team were registered together, so they sit
together on disk, and a plan that scans "until it has found enough" can read the whole city
before it reaches the user's county. No arm is left to such a plan.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_login import current_user
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import contains_eager
from sqlalchemy.sql.elements import ColumnElement

from fdoctor.core import dialect
from fdoctor.core.scope import scope_clause, visible_unit
from fdoctor.extensions import db
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell, OrgUnit

SEARCH_LIMIT = 1000  # matches listed at most
PER_PAGE = 30
MIN_ADDRESS_TERM = 3  # characters: shorter parts of an address are in too many (and no trigram)
CELL_LIMIT = 200  # grid cells a name may match

_CITIZEN_ID = re.compile(r"^\d{17}[\dX]$")
_ID_TAIL = re.compile(r"^(\d{1,6}|\d{1,5}X)$")
_PHONE = re.compile(r"^\d[\d-]{6,19}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
_ID_TAIL_WIDTH = 6  # Resident.id_tail holds the last six characters

# Filter levels below the user's own unit: which kinds a cascade offers, from each kind.
_FILTER_KINDS = ("county", "institution", "team")
_SCOPE_COLUMN = {"pool": "county_id", "county": "county_id", "institution": "institution_id",
                 "station": "team_id", "team": "team_id"}  # fmt: skip


# --- what was typed -------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A search term and what it was recognised as."""

    kind: str  # "" (nothing typed), "citizen_id", "id_tail", "phone" or "text"
    value: str

    @property
    def label(self) -> str:
        return TERM_LABELS.get(self.kind, "")


TERM_LABELS = {
    "citizen_id": "身份证号",
    "id_tail": "身份证号后几位",
    "phone": "电话号码（开头）",
    "text": "姓名（开头）、地址（3个字以上）、网格名称或户编号",
}


def classify(q: str | None) -> Term:
    # NFKC first: a full-width citizen ID or phone number is looked up as the ASCII one.
    text = " ".join(unicodedata.normalize("NFKC", q or "").split())
    compact = text.replace(" ", "").upper()
    if not compact:
        return Term("", "")
    if _CITIZEN_ID.match(compact):
        return Term("citizen_id", compact)
    if _ID_TAIL.match(compact):
        return Term("id_tail", compact)
    if _PHONE.match(compact) and sum(c.isdigit() for c in compact) >= 7:
        return Term("phone", compact)
    return Term("text", text)


# --- where to look --------------------------------------------------------------------------


@dataclass
class Filter:
    """The user's scope narrowed by the optional unit and grid-cell filter (both in scope)."""

    user: Any
    unit: OrgUnit | None = None  # a county, institution or team below the user's unit
    cell: GridCell | None = None
    cell_ids: list[int] | None = None  # the cell and the cells below it

    def clauses(self, model: Any) -> list[ColumnElement[bool]]:
        """WHERE clauses on a scoped table (Resident, Household or GridCell)."""
        clauses = [scope_clause(model, self.user)]
        if self.cell is not None:
            clauses.append(model.team_id == self.cell.team_id)
        elif self.unit is not None:
            clauses.append(getattr(model, f"{self.unit.kind}_id") == self.unit.id)
        return clauses

    def order_column(self) -> str | None:
        """The narrowest scope column: ordering by it makes its index the plan's fallback."""
        if self.cell is not None:
            return "team_id"
        if self.unit is not None:
            return f"{self.unit.kind}_id"
        unit = visible_unit(self.user)
        return _SCOPE_COLUMN.get(unit.kind) if unit is not None else None


def _resident_arm(where: Filter, *conditions: ColumnElement[bool]) -> Select[Any]:
    """Keys ``(household_id, id)`` of residents meeting ``conditions`` in the filter."""
    stmt = select(Resident.household_id, Resident.id).where(*where.clauses(Resident), *conditions)
    if where.cell_ids is not None:
        stmt = stmt.join(Household, Household.id == Resident.household_id).where(
            Household.grid_cell_id.in_(where.cell_ids)
        )
    return stmt


def _household_arm(where: Filter, *conditions: ColumnElement[bool]) -> Select[Any]:
    """Ids of households meeting ``conditions`` in the filter (their residents are looked up
    afterwards: a join here would let the planner read far too many residents)."""
    stmt = select(Household.id).where(*where.clauses(Household), *conditions)
    if where.cell_ids is not None:
        stmt = stmt.where(Household.grid_cell_id.in_(where.cell_ids))
    return stmt


def _bounded(model: Any, stmt: Select[Any], where: Filter, limit: int) -> Select[Any]:
    """At most ``limit + 1`` rows of one arm, with a plan that never reads a city to find them.

    In a scope, ordering by the scope's column makes its index the fallback plan. Without one (the
    city), PostgreSQL plans the arm for its whole result (a materialized CTE): an index when the
    term is selective, and the LIMIT still stops the scan early; never a scan that hopes to meet
    matches soon, which is what it does for a LIMIT query and where clustered rows defeat it.
    """
    column = where.order_column()
    if column is not None:
        stmt = stmt.order_by(getattr(model, column))
    elif dialect.is_postgresql():
        matches = stmt.cte("matches").prefix_with("MATERIALIZED")
        stmt = select(*matches.c)
    return stmt.limit(limit + 1)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_range(column: Any, value: str) -> ColumnElement[bool]:
    """``column`` starts with ``value`` as a B-tree range (code-point order: digits, SQLite)."""
    last = value[-1]
    upper = value[:-1] + chr(ord(last) + 1) if ord(last) < 0x10FFFF else None
    clause = column >= value
    return clause & (column < upper) if upper is not None else clause


def _starts_with(column: Any, value: str) -> ColumnElement[bool]:
    if dialect.is_postgresql():
        # The trigram index answers anchored LIKE; a range would depend on the collation.
        return column.like(_escape_like(value) + "%", escape="\\")
    return _prefix_range(column, value)


def _contains(column: Any, value: str) -> ColumnElement[bool]:
    return column.like("%" + _escape_like(value) + "%", escape="\\")


def _id_tail_condition(tail: str) -> ColumnElement[bool]:
    """The citizen ID ends with ``tail``. The stored six-character tail makes 6 one lookup and
    3 to 5 a short list of lookups (every possible leading digit); shorter ones match so many
    residents that any scan finds enough of them at once."""
    missing = _ID_TAIL_WIDTH - len(tail)
    if missing == 0:
        return Resident.id_tail == tail
    if missing <= 3:
        heads = ("".join(p) for p in itertools.product("0123456789", repeat=missing))
        return Resident.id_tail.in_([head + tail for head in heads])
    return Resident.id_tail.like("%" + tail)


@dataclass
class Matches:
    """The keys ``(household_id, resident id)`` of up to ``limit`` matches, in list order."""

    keys: list[tuple[int, int]]
    more: bool  # more residents match than were kept


def match_keys(term: Term, where: Filter, limit: int | None = None) -> Matches:
    limit = SEARCH_LIMIT if limit is None else limit
    value = term.value
    resident_arms: list[Select[Any]] = []
    household_arms: list[Select[Any]] = []
    more = False
    if term.kind == "":
        resident_arms.append(_resident_arm(where))
    elif term.kind == "citizen_id":
        resident_arms.append(_resident_arm(where, Resident.citizen_id == value))
    elif term.kind == "id_tail":
        resident_arms.append(_resident_arm(where, _id_tail_condition(value)))
    elif term.kind == "phone":
        resident_arms.append(_resident_arm(where, _prefix_range(Resident.phone, value)))
        household_arms.append(_household_arm(where, _prefix_range(Household.phone, value)))
    else:
        resident_arms.append(_resident_arm(where, _starts_with(Resident.name, value)))
        if len(value) >= MIN_ADDRESS_TERM:
            household_arms.append(_household_arm(where, _contains(Household.address, value)))
        cells = list(
            db.session.scalars(
                select(GridCell.id)
                .where(*where.clauses(GridCell), _contains(GridCell.name, value))
                .limit(CELL_LIMIT + 1)
            )
        )
        if cells:
            more = len(cells) > CELL_LIMIT
            household_arms.append(
                _household_arm(where, Household.grid_cell_id.in_(cells[:CELL_LIMIT]))
            )
        if _CODE.match(value):
            household_arms.append(_household_arm(where, Household.code == value))
    found: set[tuple[int, int]] = set()
    for arm in resident_arms:
        rows = db.session.execute(_bounded(Resident, arm, where, limit)).all()
        more = more or len(rows) > limit
        found.update((household_id, resident_id) for household_id, resident_id in rows)
    for arm in household_arms:
        # The households found, each with its residents (none: a row with NULL).
        households = _bounded(Household, arm, where, limit).subquery("households")
        rows = db.session.execute(
            select(households.c.id, Resident.id).select_from(
                households.outerjoin(
                    Resident,
                    and_(Resident.household_id == households.c.id, *where.clauses(Resident)),
                )
            )
        ).all()
        more = more or len({household_id for household_id, _r in rows}) > limit
        found.update((h, r) for h, r in rows if r is not None)
    keys = sorted(found)
    return Matches(keys[:limit], more or len(keys) > limit)


def load_residents(ids: Sequence[int]) -> list[Resident]:
    """The residents with their households (one statement), in the order of ``ids``."""
    if not ids:
        return []
    rows = db.session.scalars(
        select(Resident)
        .join(Household, Resident.household_id == Household.id)
        .options(contains_eager(Resident.household))
        .where(Resident.id.in_(list(ids)))
    ).all()
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


@dataclass
class ResultPage:
    """One page of a search: ``total`` residents are listed, all that match unless ``more``
    (then ``total`` is the limit and more match)."""

    items: list[Resident]
    page: int
    per_page: int
    total: int
    more: bool
    term: Term = field(default_factory=lambda: Term("", ""))

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def find_residents(
    q: str | None, where: Filter, page: int = 1, per_page: int | None = None
) -> ResultPage:
    per_page = PER_PAGE if per_page is None else per_page
    term = classify(q)
    matches = match_keys(term, where)
    pages = max(1, math.ceil(len(matches.keys) / per_page))
    page = min(max(1, page), pages)
    window = matches.keys[(page - 1) * per_page : page * per_page]
    items = load_residents([resident_id for _household_id, resident_id in window])
    return ResultPage(items, page, per_page, len(matches.keys), matches.more, term)


def search_residents(
    q: str | None, user: Any | None = None, grid_cell_id: int | None = None
) -> Select[tuple[Resident]]:
    """The residents matching ``q`` in the user's scope (at most :data:`SEARCH_LIMIT`), families
    together: a statement for callers that take the first few (e.g. the survey picker)."""
    user = current_user if user is None else user
    where = resolve_filter(user, [], grid_cell_id)
    ids = [resident_id for _h, resident_id in match_keys(classify(q), where).keys]
    return (
        select(Resident)
        .join(Household, Resident.household_id == Household.id)
        .options(contains_eager(Resident.household))
        .where(Resident.id.in_(ids))
        .order_by(Resident.household_id, Resident.id)
    )


# --- the filter: org units down to a team, then the team's grid ------------------------------


def grid_subtree_ids(cell_id: int) -> Select[tuple[int]]:
    """The cell and every cell below it (the grid is at most three levels deep)."""
    children = select(GridCell.id).where(GridCell.parent_id == cell_id)
    return select(GridCell.id).where(
        or_(
            GridCell.id == cell_id,
            GridCell.parent_id == cell_id,
            GridCell.parent_id.in_(children),
        )
    )


@dataclass(frozen=True)
class GridOption:
    """A grid cell with its path from the area down, for pickers and filters."""

    id: int
    team_id: int
    kind: str
    chain: tuple[tuple[int, str], ...]  # (id, name) from the area down to this cell
    leaf: bool
    team_name: str = ""

    @property
    def label(self) -> str:
        return " › ".join(name for _, name in self.chain)

    @property
    def chain_attr(self) -> str:
        """``id:name|id:name`` for the cascading picker (names never contain ``|``)."""
        return "|".join(f"{i}:{n.replace('|', '/')}" for i, n in self.chain)


def grid_options(
    user: Any | None = None, team_ids: Iterable[int] | None = None
) -> list[GridOption]:
    """Every grid cell in the user's scope (optionally only some teams), in tree order. One query."""
    stmt = select(GridCell, OrgUnit.name).join(OrgUnit, OrgUnit.id == GridCell.team_id)
    stmt = stmt.where(scope_clause(GridCell, user))
    if team_ids is not None:
        stmt = stmt.where(GridCell.team_id.in_(list(team_ids)))
    rows = db.session.execute(stmt).all()
    cells = {c.id: c for c, _ in rows}
    team_names = {c.id: name for c, name in rows}
    has_children = {c.parent_id for c in cells.values() if c.parent_id is not None}
    options = []
    for cell in cells.values():
        chain: list[tuple[int, str]] = []
        node: GridCell | None = cell
        while node is not None:
            chain.append((node.id, node.name))
            node = cells.get(node.parent_id) if node.parent_id is not None else None
        chain.reverse()
        options.append(
            GridOption(
                id=cell.id,
                team_id=cell.team_id,
                kind=cell.kind,
                chain=tuple(chain),
                leaf=cell.id not in has_children,
                team_name=team_names[cell.id],
            )
        )
    options.sort(key=lambda o: (o.team_name, [n for _, n in o.chain], o.id))
    return options


def _unit_in_scope(unit: OrgUnit | None, user: Any) -> bool:
    if unit is None or unit.kind not in _FILTER_KINDS:
        return False
    top = visible_unit(user)
    return top is None or (unit.path.startswith(top.path) and unit.id != top.id)


def resolve_filter(user: Any, unit_ids: Iterable[int | None], cell_id: int | None) -> Filter:
    """The deepest consistent choice: each unit must lie below the previous one (a changed upper
    level drops the stale lower ones), and the cell must lie below the last unit."""
    where = Filter(user)
    for unit_id in unit_ids:
        unit = db.session.get(OrgUnit, unit_id) if unit_id else None
        if not _unit_in_scope(unit, user):
            break
        assert unit is not None
        if where.unit is not None and not unit.path.startswith(where.unit.path):
            break
        where.unit = unit
    if cell_id:
        cell = db.session.scalar(
            select(GridCell).where(GridCell.id == cell_id, scope_clause(GridCell, user))
        )
        if cell is not None and (
            where.unit is None or getattr(cell, f"{where.unit.kind}_id") == where.unit.id
        ):
            where.cell = cell
            where.cell_ids = list(db.session.scalars(grid_subtree_ids(cell.id)))
    return where


@dataclass(frozen=True)
class FilterLevel:
    """One select of the cascade: its options and the chosen one."""

    name: str  # the query parameter
    label: str
    placeholder: str
    options: list[tuple[int, str]]
    selected: int | None


_LEVEL_LABELS = {
    "county": ("县（市、区）", "全部县（市、区）"),
    "institution": ("医疗机构", "全部机构"),
    "team": ("家庭医生团队", "全部团队"),
}


def filter_levels(where: Filter) -> list[FilterLevel]:
    """The cascade for the page: one select per org level from below the user's unit down to the
    chosen one's children, then the grid of a team once one is chosen. Each select lists only
    one unit's children (a few dozen options), never the whole city's grid."""
    top = visible_unit(where.user)
    top_kind = top.kind if top is not None else "city"
    chosen = where.unit
    if where.cell is not None:
        chosen = db.session.get(OrgUnit, where.cell.team_id)
    ancestors: dict[str, OrgUnit] = {}
    if chosen is not None:
        ids = [int(part) for part in chosen.path.strip("/").split("/") if part]
        for unit in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids))):
            ancestors[unit.kind] = unit
    if top_kind == "team":
        team: OrgUnit | None = top
        kinds: tuple[str, ...] = ()
    elif top_kind == "station":
        team = ancestors.get("team")
        kinds = ("team",)
    else:
        team = ancestors.get("team")
        start = {"city": 0, "pool": 0, "county": 1, "institution": 2}[top_kind]
        kinds = _FILTER_KINDS[start:]
    levels: list[FilterLevel] = []
    parent = top
    for kind in kinds:
        stmt = select(OrgUnit.id, OrgUnit.name).where(OrgUnit.kind == kind, OrgUnit.active)
        if parent is not None:
            stmt = stmt.where(OrgUnit.path.startswith(parent.path, autoescape=True))
        label, placeholder = _LEVEL_LABELS[kind]
        selected = ancestors.get(kind)
        options = [(i, n) for i, n in db.session.execute(stmt.order_by(OrgUnit.code))]
        levels.append(FilterLevel("unit", label, placeholder, options, selected and selected.id))
        if selected is None:
            break
        parent = selected
    if team is not None:
        cells = grid_options(where.user, team_ids=[team.id])
        levels.append(
            FilterLevel(
                "cell",
                "网格",
                "全部网格",
                [(o.id, o.label) for o in cells],
                where.cell.id if where.cell is not None else None,
            )
        )
    return levels
