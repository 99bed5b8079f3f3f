"""Household and resident queries (search in the user's scope)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from fdoctor.core.scope import scoped
from fdoctor.households.models import Household, Resident
from fdoctor.org.models import GridCell


def search_residents(q: str, user: Any | None = None) -> Select[tuple[Resident]]:
    """Search by name, the last digits of the citizen ID, phone, address or grid cell name."""
    stmt = scoped(Resident, user).join(Household, Resident.household_id == Household.id)
    q = (q or "").strip()
    if q:
        conditions = [Resident.name.contains(q), Household.address.contains(q)]
        if q.isdigit() or (q[:-1].isdigit() and q[-1:].upper() == "X"):
            if len(q) <= 6:
                conditions.append(Resident.id_tail.endswith(q.upper()))
            else:
                conditions.append(Resident.citizen_id == q.upper())
            conditions.append(Resident.phone == q)
        cells = select(GridCell.id).where(GridCell.name.contains(q))
        conditions.append(Household.grid_cell_id.in_(cells))
        stmt = stmt.where(or_(*conditions))
    return stmt.order_by(Resident.household_id, Resident.id)
