"""Population denominators (人口数): 常住人口 and key-population counts per unit and year."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date

from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Team
from fdoctor.org.models import POPULATION_CATEGORIES


class FigureSteps(DrawingBase):
    """Builds the yearly population figures."""

    def figure_years(self) -> tuple[tuple[int, date], ...]:
        """This year's figures as of the anchor and last year's as of its last day."""
        return (
            (self.anchor.year, self.anchor),
            (self.anchor.year - 1, date(self.anchor.year - 1, 12, 31)),
        )

    def figure_counts(self, teams: list[Team], day: date) -> dict[tuple[int, str], int]:
        """常住人口 and key-population counts on ``day`` for the teams' units and their parents."""
        counts: dict[tuple[int, str], int] = defaultdict(int)
        # 常住人口 is estimated per grid cell and rounded there, so every level adds up.
        per_cell: dict[int, float] = defaultdict(float)
        units_of: dict[int, tuple[int, ...]] = {}
        for team in teams:
            for home in team.homes:
                units: tuple[int, ...] = (team.id, team.institution.id, team.county_id)
                if home.cell.station_id:
                    units += (home.cell.station_id,)
                units_of[home.cell.id] = units
                for person in home.people:
                    if person.born > day:
                        continue
                    per_cell[home.cell.id] += 1 + home.cell.registered_extra
                    for tag in self.tags_on(person, day):
                        for unit in units:
                            counts[(unit, tag)] += 1
        for cell_id, value in per_cell.items():
            for unit in units_of[cell_id]:
                counts[(unit, "registered")] += math.ceil(value)
        return counts

    def add_figures(
        self, year: int, counts: Mapping[tuple[int, str], int], units: list[int]
    ) -> None:
        if not self._county_of:
            self._county_of = {t.id: t.county_id for t in self.teams}
            self._county_of |= {
                p.id: p.county_id for p in self.institutions + self.stations + self.counties
            }
        for unit in units:
            for category in POPULATION_CATEGORIES:
                self.add(
                    "population_figure",
                    {
                        "id": self.next_id("population_figure"),
                        "org_unit_id": unit,
                        "county_id": self._county_of[unit],
                        "year": year,
                        "category": category,
                        "count": counts.get((unit, category), 0),
                    },
                )

    def build_figures(self) -> None:
        """Yearly 常住人口 and key-population counts per team, station, institution, county."""
        for year, day in self.figure_years():
            counts = self.figure_counts(self.teams, day)
            ordered = [t.id for t in self.teams] + [s.id for s in self.stations]
            ordered += [i.id for i in self.institutions] + [c.id for c in self.counties]
            self.add_figures(year, counts, ordered)
