"""Service packages and contracts: who signs, for how long, renewals, terminations, members
and the packages they chose."""

from __future__ import annotations

from datetime import date, timedelta

from fdoctor.contracts.services import PACKAGE_ELIGIBILITY
from fdoctor.demo.dates import add_years
from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Home, Person, Team
from fdoctor.demo.settings import Row
from fdoctor.demo.vocabulary import PACKAGES, TERMINATION_REASONS

# Share of expiring contracts the household renews (most key-population contracts are).
RENEWED = 0.85


class ContractSteps(DrawingBase):
    """Builds service packages, contracts, their members and packages."""

    def build_packages(self) -> None:
        for code, name, kind, fee, description in PACKAGES:
            self.packages[code] = self.add(
                "service_package",
                {
                    "id": self.next_id("service_package"),
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "fee_fen": fee,
                    "description": description,
                    "county_id": None,
                    "active": True,
                    "created_at": self.stamp,
                    "updated_at": self.stamp,
                },
            )

    def build_contracts(self, home: Home) -> None:
        rng, team = self.rng, home.team
        key = [p for p in home.people if self.tags_on(p, self.anchor)]
        chance = team.traits.sign_key if key else team.traits.sign_other
        boost = self.spec.sign_boost
        if boost:
            chance += (1 - chance) * boost
        if not home.must_sign and rng.random() >= chance:
            return
        members = [
            p
            for p in home.people
            if rng.random() < (0.97 if p in key else 0.35 + 0.6 * boost if key else 0.95)
            or (home.must_sign and "hypertension" in p.tags)
        ]
        if not members:
            members = [home.people[0]]
        term = 1 if any(p in key for p in members) else 3
        # The household's current (or, for a few, lapsed) contract, then back in time: most
        # contracts were renewals of one that began before the records do.
        lapse = 20  # days: a few households let the last contract run out and did not renew
        if home.must_sign:
            start = self.anchor - timedelta(days=rng.randint(200, 330))
        else:
            start = self.anchor - timedelta(days=rng.randint(1, 365 * term + lapse))
        starts = [start]
        while starts[0] > self.window_start and (home.must_sign or rng.random() < RENEWED):
            starts.insert(0, add_years(starts[0], -term))
        packages = self.choose_packages(members)
        previous: Row | None = None
        for start in starts:
            end = add_years(start, term) - timedelta(days=1)
            if previous is None:
                signed_on = start - timedelta(days=rng.randint(0, 3))
            else:
                signed_on = previous["end_date"] - timedelta(days=rng.randint(0, 25))
            # No one signs before being born (an earlier contract lists the members then).
            born = [p for p in members if p.born <= start] or [min(members, key=lambda p: p.born)]
            fitting = self.fit_packages(born, packages, start)
            contract = self.contract(home, born, fitting, signed_on, start, end, previous)
            if previous is not None:
                previous["status"] = "renewed"
            previous = contract
        if contract["end_date"] < self.anchor:
            contract["status"] = "expired"
        if contract["status"] == "active" and not home.must_sign and rng.random() < 0.025:
            earliest = contract["start_date"] + timedelta(days=20)
            if earliest < self.last_day:
                stopped = self.day_between(earliest, self.last_day)
                contract.update(
                    status="terminated",
                    terminated_on=stopped,
                    termination_reason=rng.choice(TERMINATION_REASONS),
                    updated_at=self.at(stopped),
                )

    def finish_contracts(self, teams: list[Team] | None = None) -> None:
        """Members are active only in active contracts; services stop when a contract stops."""
        contracts = {row["id"]: row for row in self.rows["contract"]}
        for row in self.rows["contract_member"]:
            row["is_active"] = contracts[row["contract_id"]]["status"] == "active"
        for team in self.teams if teams is None else teams:
            for home in team.homes:
                for person in home.people:
                    spans = []
                    for start, end, contract_id in person.spans:
                        stopped = contracts[contract_id]["terminated_on"]
                        end = min(end, stopped or end, self.last_day)
                        if end >= start:
                            spans.append((start, end, contract_id))
                    person.spans = spans

    def choose_packages(self, members: list[Person]) -> list[tuple[str, int]]:
        rng, tagged = self.rng, [self.tags_on(p, self.anchor) for p in members]
        chosen = [("BASIC", 0)]
        wanted = (
            ("ELDERLY", sum("elderly65" in t for t in tagged), 0.45),
            ("CHRONIC", sum(bool(t & {"hypertension", "diabetes"}) for t in tagged), 0.5),
            ("CHILD", sum("child0_6" in t for t in tagged), 0.4),
            ("MATERNAL", sum("maternal" in t for t in tagged), 0.6),
        )
        for code, eligible, chance in wanted:
            if eligible and rng.random() < chance:
                chosen.append((code, self.packages[code]["fee_fen"] * eligible))
        return chosen

    def fit_packages(
        self, members: list[Person], packages: list[tuple[str, int]], start: date
    ) -> list[tuple[str, int]]:
        """The chosen packages, each covering no more members than fit it on ``start``.

        Packages are drawn once per household on the anchor's tags; an earlier contract (or one
        starting before a 64-year-old's birthday) keeps only the members eligible then. No random
        draws here, so every other row stays as it was.
        """
        tagged = [self.tags_on(p, start) for p in members]
        fitting: list[tuple[str, int]] = []
        for code, fee in packages:
            rule = PACKAGE_ELIGIBILITY.get(code)
            if rule is None:
                fitting.append((code, fee))
                continue
            wanted = rule[0]
            unit = self.packages[code]["fee_fen"]
            persons = min(fee // unit, sum(bool(t & wanted) for t in tagged))
            if persons:
                fitting.append((code, unit * persons))
        return fitting

    def contract(
        self,
        home: Home,
        members: list[Person],
        packages: list[tuple[str, int]],
        signed_on: date,
        start: date,
        end: date,
        previous: Row | None,
    ) -> Row:
        rng, team = self.rng, home.team
        contract_id = self.next_id("contract")
        self.contract_numbers[team.county.region] += 1
        number = self.contract_numbers[team.county.region]
        signed_at = self.at(signed_on, 8, 12)
        copies = 2
        if start >= self.anchor - timedelta(days=14) and rng.random() < 0.35:
            copies = rng.choice((0, 1))  # the paper copies of the newest ones are still out
        scope = {
            "county_id": team.county_id,
            "institution_id": team.institution.id,
            "team_id": team.id,
        }
        row = self.add(
            "contract",
            {
                "id": contract_id,
                "code": f"QY{team.county.region}{signed_on.year}{number:05d}",
                "household_id": home.id,
                "doctor_id": home.doctor_id,
                "signed_on": signed_on,
                "start_date": start,
                "end_date": end,
                "status": "active",
                "first_contact": rng.random() < 0.72,
                "copies_signed": copies,
                "copies_signed_at": signed_at if copies else None,
                "terminated_on": None,
                "termination_reason": None,
                "renewed_from_id": previous["id"] if previous else None,
                "created_by_id": home.doctor_id,
                "created_at": signed_at,
                "updated_at": signed_at,
                **scope,
            },
        )
        if previous is not None:
            previous["updated_at"] = signed_at
        self.contract_parts(contract_id, members, packages, start, end, scope)
        return row

    def contract_parts(
        self,
        contract_id: int,
        members: list[Person],
        packages: list[tuple[str, int]],
        start: date,
        end: date,
        scope: dict[str, int],
    ) -> None:
        """A contract's members (inactive until ``finish_contracts``) and chosen packages."""
        for person in members:
            self.add(
                "contract_member",
                {
                    "id": self.next_id("contract_member"),
                    "contract_id": contract_id,
                    "resident_id": person.id,
                    "is_active": False,
                    **scope,
                },
            )
            person.spans.append((start, end, contract_id))
        for code, fee in packages:
            self.add(
                "contract_package",
                {
                    "id": self.next_id("contract_package"),
                    "contract_id": contract_id,
                    "package_id": self.packages[code]["id"],
                    "fee_fen": fee,
                },
            )
