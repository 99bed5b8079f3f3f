"""The demo city (演示数据): 许昌市 with two settlement pools, six counties and a year of services.

Everything is drawn from one ``random.Random(seed)`` and dated relative to ``anchor`` (never the
wall clock), so the same (seed, anchor) gives the same rows. Rows are built as plain dicts that
carry their own primary keys and are inserted in a few bulk statements, in one transaction that
the caller commits.

Public-health services (基本公共卫生) reach every resident, signed or not, inside the windows of
``assessments.care_schedule``; consultations, home visits and referrals happen only under a
contract. Teams differ in a drawn capability, so every indicator spreads across them. The quarterly
verification draws use ``assessments.sampling`` with their recorded seed, so they can be replayed.

:class:`CityBuilder` is one object assembled from one step class per job (organisation,
households, figures, contracts, service records, surveys), all on :class:`DrawingBase`: the steps
share one random stream and one set of rows, and their order of calls is what makes the city, so
they stay methods of one builder rather than separate objects passing the stream around.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date

from fdoctor.demo.contracts import ContractSteps
from fdoctor.demo.entities import Place
from fdoctor.demo.figures import FigureSteps
from fdoctor.demo.households import HouseholdSteps
from fdoctor.demo.org import OrgSteps
from fdoctor.demo.service_records import ServiceRecordSteps
from fdoctor.demo.settings import DEMO_LOGINS
from fdoctor.demo.surveys import SurveySteps
from fdoctor.org.models import POPULATION_CATEGORIES


class CityBuilder(
    OrgSteps, HouseholdSteps, FigureSteps, ContractSteps, ServiceRecordSteps, SurveySteps
):
    """Draws the whole city into ``rows`` (table name → list of row dicts with ids)."""

    def build(self) -> None:
        self.build_org()
        self.build_packages()
        for team in self.teams:
            self.build_grid(team)
            self.build_homes(team)
        self.ensure_key_populations()
        self.write_homes()
        self.build_figures()
        for team in self.teams:
            for home in team.homes:
                self.build_contracts(home)
        self.finish_contracts()
        for team in self.teams:
            self.build_services(team)
        self.build_surveys()
        self.build_complaints()

    def build_streaming(
        self, flush: Callable[[], None], county_done: Callable[[str], None] | None = None
    ) -> None:
        """The same city built one institution at a time: after each, ``flush`` writes
        ``rows`` out and empties them, and the institution's people are dropped."""
        self.build_org()
        self.build_packages()
        flush()
        years = self.figure_years()
        for county in self.counties:
            # Citizen ids carry the county's region code, and names need only be unique within
            # a county: both sets stay as small as one county.
            self._used_ids.clear()
            self._used_names.clear()
            county_counts: dict[tuple[int, str], int] = defaultdict(int)
            for institution in [i for i in self.institutions if i.county_id == county.id]:
                self.build_institution_people(institution, years, county_counts)
                flush()
                self.drop_institution_people(institution)
            for year, _ in years:
                counts = {(county.id, c): county_counts[(year, c)] for c in POPULATION_CATEGORIES}
                self.add_figures(year, counts, [county.id])
            if county_done:
                county_done(county.name)
        self.build_complaints()
        flush()

    def build_institution_people(
        self,
        institution: Place,
        years: tuple[tuple[int, date], ...],
        county_counts: dict[tuple[int, str], int],
    ) -> None:
        """One institution's households, figures, contracts, services and surveys, in the order
        ``build`` draws them; its county's figures are added up in ``county_counts``."""
        teams = [t for t in self.teams if t.institution is institution]
        for team in teams:
            self.build_grid(team)
            self.build_homes(team)
        self.ensure_key_populations(teams, [institution])
        self.write_homes(teams)
        stations = [s.id for s in self.stations if s.institution_id == institution.id]
        units = [t.id for t in teams] + stations + [institution.id]
        for year, day in years:
            counts = self.figure_counts(teams, day)
            self.add_figures(year, counts, units)
            for category in POPULATION_CATEGORIES:
                county_counts[(year, category)] += counts[(institution.county_id, category)]
        for team in teams:
            for home in team.homes:
                self.build_contracts(home)
        self.finish_contracts(teams)
        for team in teams:
            self.build_services(team)
        self.build_surveys([institution], teams)

    def drop_institution_people(self, institution: Place) -> None:
        """Once written, an institution's people are no longer needed: memory stays flat."""
        self.records_by_resident.clear()
        for team in self.teams:
            if team.institution is institution:
                team.homes.clear()
                team.leaves.clear()

    def login_rows(self) -> list[tuple[str, str, str]]:
        unit_names = self.unit_names
        result = []
        for username, label in DEMO_LOGINS:
            user = self.users_by_name[username]
            unit = unit_names.get(user["org_unit_id"], "（全市，不限机构）")
            result.append((username, label, unit))
        return result
