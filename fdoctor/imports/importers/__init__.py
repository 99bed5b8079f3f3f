"""The roster importers (导入): households, residents, contracts and population denominators.

Every row is validated first (required columns, citizen IDs, dates, codes that must exist in the
user's scope, duplicates inside the file, residents already under an active contract, term
limits). Any problem → nothing is written and the report lists (row, column, problem). A clean
file is written in one transaction. Rows are matched on natural keys (户编号, 身份证号, 协议编号,
(机构编码, 年度, 人群类别)), so importing the same file again creates nothing and reports the rows
as unchanged.

``base`` holds what they share; one module per importer; ``IMPORTERS`` is what the pages offer.
"""

from __future__ import annotations

from typing import Any

from fdoctor.imports.importers.base import Column, Importer, Outcome, Problem
from fdoctor.imports.importers.contracts import ContractImporter
from fdoctor.imports.importers.households import HouseholdImporter
from fdoctor.imports.importers.population import PopulationImporter
from fdoctor.imports.importers.residents import ResidentImporter

IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls
    for cls in (HouseholdImporter, ResidentImporter, ContractImporter, PopulationImporter)
}


def kinds_for(user: Any) -> list[type[Importer]]:
    role = getattr(user, "role", None)
    return [cls for cls in IMPORTERS.values() if role in cls.roles]


__all__ = [
    "IMPORTERS",
    "Column",
    "ContractImporter",
    "HouseholdImporter",
    "Importer",
    "Outcome",
    "PopulationImporter",
    "Problem",
    "ResidentImporter",
    "kinds_for",
]
