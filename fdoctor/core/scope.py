"""Which rows a user may see: the one place scope is decided.

A user sees their org unit and everything below it, never a sibling. Large tables carry
``county_id``, ``institution_id`` and ``team_id`` so the filter is a single indexed comparison.
Every list, search, export and API builds its query through :func:`scoped` or
:func:`get_scoped_or_404`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

M = TypeVar("M")


def _user(user: Any | None) -> Any:
    return current_user if user is None else user


def visible_unit(user: Any | None = None) -> OrgUnit | None:
    """The top of the user's subtree, or None for the whole city."""
    user = _user(user)
    unit = user.org_unit
    if unit is None or unit.kind == "city":
        return None
    return unit


def _ids_below(unit: OrgUnit, kind: str) -> list[int]:
    return list(
        db.session.scalars(
            select(OrgUnit.id).where(OrgUnit.kind == kind, OrgUnit.path.startswith(unit.path))
        )
    )


def scope_clause(model: Any, user: Any | None = None) -> ColumnElement[bool]:
    """A WHERE clause limiting ``model`` (a scoped table or OrgUnit) to the user's subtree."""
    user = _user(user)
    if not getattr(user, "is_authenticated", False):
        return false()
    unit = visible_unit(user)
    if unit is None:
        return true()
    if model is OrgUnit:
        return OrgUnit.path.startswith(unit.path)
    if unit.kind == "pool":
        return model.county_id.in_(_ids_below(unit, "county"))
    if unit.kind == "county":
        return model.county_id == unit.id
    if unit.kind == "institution":
        return model.institution_id == unit.id
    if unit.kind == "station":
        return model.team_id.in_(_ids_below(unit, "team"))
    if unit.kind == "team":
        return model.team_id == unit.id
    return false()


def county_clause(model: Any, user: Any | None = None) -> ColumnElement[bool]:
    """A WHERE clause for rows kept per county (``model.county_id``, e.g. a county's workload
    report): visible to the whole county's staff, below the county as well as at it."""
    user = _user(user)
    if not getattr(user, "is_authenticated", False):
        return false()
    counties = visible_county_ids(user)
    if counties is None:
        return true()
    return model.county_id == counties[0] if counties else false()


def visible_county_ids(user: Any | None = None) -> list[int] | None:
    """The county whose per-county rows the user sees (a one-item list; empty when the user's
    unit is under no county), or None for the whole city (``county_clause``'s rule)."""
    unit = visible_unit(user)
    if unit is None:
        return None
    county_id = unit.id if unit.kind == "county" else unit.county_id
    return [] if county_id is None else [county_id]


def scoped(model: type[M], user: Any | None = None) -> Select[tuple[M]]:
    """``select(model)`` already limited to the user's scope."""
    return select(model).where(scope_clause(model, user))


def in_scope(obj: Any, user: Any | None = None) -> bool:
    user = _user(user)
    unit = visible_unit(user)
    if unit is None:
        return bool(getattr(user, "is_authenticated", False))
    if isinstance(obj, OrgUnit):
        return obj.path.startswith(unit.path)
    for column in ("team_id", "institution_id", "county_id"):
        target = getattr(obj, column, None)
        if target is None:
            continue
        owner = db.session.get(OrgUnit, target)
        return owner is not None and owner.path.startswith(unit.path)
    return False


def get_scoped_or_404(model: type[M], ident: Any, user: Any | None = None) -> M:
    """Load one row by primary key if the user may see it; 404 otherwise (no hint it exists)."""
    row = db.session.scalar(
        select(model).where(model.id == ident, scope_clause(model, user))  # type: ignore[attr-defined]
    )
    if row is None:
        abort(404)
    return row
