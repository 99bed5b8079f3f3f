"""The main menu: each area declares its own entries next to its blueprint.

An area calls ``menu.add(bp, "index", "标签", roles=..., group=menu.ASSESSMENT, order=10)`` at
import; the entry joins the menu of every app the blueprint is registered on, so the core names
no area and adding a page touches only its area. The core holds the menu's layout only: which
groups there are and in which order (``GROUPS``).

Rendering (``base.html``): the top-level links (no group) come first, then the groups in
``GROUPS`` order; a group with one page for the role is a plain link, more are a dropdown, so no
label wraps on a 1280-wide tablet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Blueprint, current_app
from flask.sansio.app import App
from flask.sansio.blueprints import BlueprintSetupState

from fdoctor.core.roles import Role

# The menu's groups, in the order they are shown.
RESIDENTS = "居民签约"
SERVICES = "服务"
ASSESSMENT = "考核"
SETTLEMENT = "结算"
MANAGEMENT = "管理"
GROUPS = (RESIDENTS, SERVICES, ASSESSMENT, SETTLEMENT, MANAGEMENT)

_EXTENSION = "fdoctor.menu"


@dataclass(frozen=True)
class Entry:
    """One page in the menu. ``roles`` None: every signed-in user; ``group`` None: top level."""

    endpoint: str
    label: str
    roles: frozenset[str] | None
    group: str | None
    order: int  # position within its group (or among the top-level links)

    def shown_to(self, role: str) -> bool:
        return self.roles is None or role in self.roles


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: str


@dataclass(frozen=True)
class Dropdown:
    label: str
    links: tuple[Link, ...]

    @property
    def endpoints(self) -> frozenset[str]:
        return frozenset(link.endpoint for link in self.links)


def add(
    bp: Blueprint,
    endpoint: str,
    label: str,
    *,
    roles: Iterable[Role] | None,
    group: str | None,
    order: int,
) -> None:
    """Declare the page ``bp.endpoint`` in the menu (shown when the blueprint is registered)."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown menu group {group!r}")
    entry = Entry(
        endpoint=f"{bp.name}.{endpoint}",
        label=label,
        roles=None if roles is None else frozenset(str(role) for role in roles),
        group=group,
        order=order,
    )

    def register(state: BlueprintSetupState) -> None:
        entries_of(state.app).append(entry)

    bp.record_once(register)


def entries_of(app: App) -> list[Entry]:
    """Every entry declared by the blueprints registered on ``app``."""
    entries: list[Entry] = app.extensions.setdefault(_EXTENSION, [])
    return entries


def menu_for(role: str) -> list[Link | Dropdown]:
    """The menu a user of ``role`` sees: top-level links, then one item per non-empty group."""
    mine = sorted(
        (e for e in entries_of(current_app) if e.shown_to(role)),
        key=lambda e: (e.order, e.endpoint),
    )
    items: list[Link | Dropdown] = [Link(e.endpoint, e.label) for e in mine if e.group is None]
    for group in GROUPS:
        links = tuple(Link(e.endpoint, e.label) for e in mine if e.group == group)
        if len(links) == 1:
            items.append(links[0])
        elif links:
            items.append(Dropdown(group, links))
    return items
