"""A to-do (待办): one thing a role of one unit must do, and the page where it is done.

Plain frozen values with no database access, so any area can produce them (the settlement's
missing inputs, the assessments waiting for a step) and any page can list them: grouped by
responsible unit and role on the settlement page, filtered to one user on the home page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fdoctor.core.roles import ROLE_LABELS, Role

CITY_WIDE = "全市"


@dataclass(frozen=True)
class Todo:
    """``role`` of ``unit_id`` must do ``text`` on the page ``endpoint`` (with ``params``).

    ``unit_id`` None means the city as a whole (a city-level role without a unit row).
    """

    unit_id: int | None
    unit_name: str
    role: Role
    text: str
    endpoint: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def url(self) -> str:
        """The page where it is done (needs an app or request context)."""
        from flask import url_for

        return url_for(self.endpoint, **dict(self.params))


def todo(unit: Any | None, role: Role, text: str, endpoint: str, **params: Any) -> Todo:
    """A to-do of ``role`` at ``unit`` (an org unit, or None for the city)."""
    return Todo(
        unit_id=unit.id if unit is not None else None,
        unit_name=unit.name if unit is not None else CITY_WIDE,
        role=role,
        text=text,
        endpoint=endpoint,
        params=tuple(sorted(params.items())),
    )


@dataclass(frozen=True)
class TodoGroup:
    """The to-dos of one role at one unit."""

    unit_id: int | None
    unit_name: str
    role: Role
    items: tuple[Todo, ...]

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def grouped(todos: Iterable[Todo]) -> list[TodoGroup]:
    """The to-dos by (unit, role), groups and items in the order first seen."""
    groups: dict[tuple[int | None, Role], list[Todo]] = {}
    names: dict[int | None, str] = {}
    for item in todos:
        groups.setdefault((item.unit_id, item.role), []).append(item)
        names.setdefault(item.unit_id, item.unit_name)
    return [
        TodoGroup(unit_id, names[unit_id], role, tuple(items))
        for (unit_id, role), items in groups.items()
    ]
