"""The finance office's figures: money, not service counts.

The latest sheet of each kind (year, status, total), the amounts by county of the latest sheet, the
pool funds the office approves (this year and last), and every year's pool funds for the funds page.
Each read is one query; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.models import PoolFund, Settlement, SettlementLine


@dataclass(frozen=True)
class PoolFunds:
    """One pool's funds by year (fen; a year missing from ``by_year`` is not configured)."""

    pool_id: int
    name: str
    by_year: dict[int, int]


@dataclass(frozen=True)
class FundsTable:
    years: list[int]
    pools: list[PoolFunds]

    def total(self, year: int) -> int | None:
        """The year's total over the pools, or None when no pool has a fund that year."""
        amounts = [p.by_year[year] for p in self.pools if year in p.by_year]
        return sum(amounts) if amounts else None


@dataclass(frozen=True)
class FinanceFigures:
    sheets: list[Settlement]  # the latest sheet of each kind, newest year first
    shown: Settlement | None  # the sheet whose county amounts are listed
    counties: list[SettlementLine]
    funds: FundsTable  # this year and last


def finance_figures(year: int, user: Any | None = None) -> FinanceFigures:
    """The finance home page's figures for the current ``year``."""
    latest: dict[str, Settlement] = {}
    for sheet in db.session.scalars(
        select(Settlement).order_by(Settlement.year.desc(), Settlement.kind.desc())
    ):
        latest.setdefault(sheet.kind, sheet)
    sheets = sorted(latest.values(), key=lambda s: (-s.year, s.kind != "settlement"))
    shown = sheets[0] if sheets else None
    counties = []
    if shown is not None:
        counties = list(
            db.session.scalars(
                select(SettlementLine)
                .where(
                    SettlementLine.settlement_id == shown.id,
                    SettlementLine.level == "county",
                    scope_clause(SettlementLine, user),
                )
                .order_by(SettlementLine.position)
            )
        )
    return FinanceFigures(sheets, shown, counties, funds_table([year - 1, year]))


def funds_table(years: list[int] | None = None) -> FundsTable:
    """Every pool's funds in ``years`` (default: every year with a fund), years ascending."""
    stmt = select(PoolFund.pool_id, PoolFund.year, PoolFund.fund_fen)
    if years is not None:
        stmt = stmt.where(PoolFund.year.in_(years))
    rows = db.session.execute(stmt).all()
    pools = db.session.execute(
        select(OrgUnit.id, OrgUnit.name).where(OrgUnit.kind == "pool").order_by(OrgUnit.code)
    ).all()
    by_pool: dict[int, dict[int, int]] = {pool_id: {} for pool_id, _ in pools}
    for pool_id, fund_year, fen in rows:
        by_pool.setdefault(pool_id, {})[fund_year] = fen
    shown_years = sorted(years if years is not None else {year for _, year, _ in rows})
    return FundsTable(
        shown_years, [PoolFunds(pool_id, name, by_pool[pool_id]) for pool_id, name in pools]
    )
