"""The grid, households and residents: who lives where, their citizen ids, chronic disease
and pregnancies, and the key populations every team and institution must have."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta

from fdoctor.core import citizen_id as cid
from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Cell, Home, Person, Place, Team
from fdoctor.demo.settings import DemoError, Row
from fdoctor.demo.vocabulary import CN_NUM, ESTATES

# The tags a resident row stores as ``tag_*`` flags (the others are derived from the birth date).
STORED_TAGS = (
    "maternal",
    "hypertension",
    "diabetes",
    "mental_severe",
    "tuberculosis",
    "disabled",
    "poverty",
    "special_family",
)


class HouseholdSteps(DrawingBase):
    """Builds the grid, households, residents and pregnancies."""

    def grid_cell(
        self,
        team: Team,
        code: str,
        name: str,
        kind: str,
        parent: Row | None,
        station_id: int | None,
    ) -> Row:
        return self.add(
            "grid_cell",
            {
                "id": self.next_id("grid_cell"),
                "code": code,
                "name": name,
                "kind": kind,
                "parent_id": parent["id"] if parent else None,
                "county_id": team.county_id,
                "institution_id": team.institution.id,
                "team_id": team.id,
                "station_id": station_id,
            },
        )

    def build_grid(self, team: Team) -> None:
        rng = self.rng
        served = self.team_stations.get(team.id) or []
        n_areas = rng.randint(1, 2)
        counts = [rng.randint(2, 4) for _ in range(n_areas)]
        k = 0
        named: set[int] = set()
        for a, n_comm in enumerate(counts):
            stations = [served[(k + c) % len(served)] if served else None for c in range(n_comm)]
            area_station = (
                stations[0].id if stations[0] and len(set(map(id, stations))) == 1 else None
            )
            if team.rural:
                area_name = f"{team.institution.short}{'东西南北'[(a + team.id) % 4]}片区"
            else:
                area_name = f"{team.name.removesuffix('家庭医生团队').removesuffix('团队')}第{CN_NUM[a]}片区"
            area = self.grid_cell(
                team, f"{team.code}-A{a + 1}", area_name, "area", None, area_station
            )
            for c, station in enumerate(stations):
                station_id = station.id if station else None
                if team.rural:
                    # A village clinic's own village is one of the villages it serves.
                    if station and station.id not in named:
                        named.add(station.id)
                        name = station.home_name
                    else:
                        name = self.village_name()
                else:
                    name = self.unique_name(lambda: rng.choice(ESTATES))
                code = f"{team.code}-A{a + 1}-C{c + 1}"
                community = self.grid_cell(team, code, name, "community", area, station_id)
                rural_extra = rng.uniform(0.12, 0.30)  # migrant workers registered but away
                if team.rural:
                    address = f"许昌市{team.county.name}{team.institution.short}{name}"
                    team.leaves.append(
                        Cell(
                            community["id"],
                            station_id,
                            address,
                            rural_extra,
                            True,
                            rng.randint(3, 9),
                        )
                    )
                else:
                    street = team.institution.short + "街道"
                    extra = rng.uniform(0.06, 0.18)
                    numbers: set[int] = set()
                    for b in range(rng.randint(3, 6)):
                        number = b + 1 + rng.choice((0, 0, 2, 5))
                        while number in numbers:  # one "3号楼" per estate
                            number += 1
                        numbers.add(number)
                        building = self.grid_cell(
                            team,
                            f"{code}-B{b + 1}",
                            f"{name}{number}号楼",
                            "building",
                            community,
                            station_id,
                        )
                        address = f"许昌市{team.county.name}{street}{name}{number}号楼"
                        team.leaves.append(Cell(building["id"], station_id, address, extra, False))
            k += n_comm

    def compose(self, rural: bool) -> list[tuple[str, str, int, bool]]:
        """One household's members: (relation, sex, age in days, shares the head's surname)."""
        rng = self.rng

        def years(lo: int, hi: int) -> int:
            return rng.randint(lo * 365, hi * 365 + 364)

        spread = self.spec.streaming

        def kid(max_age: int) -> int:
            age = rng.randint(0, 6) if rng.random() < 0.4 else rng.randint(7, 15)
            # A young mother's child is capped at 200 days old; at the benchmark scales the cap
            # is spread over the year, or thousands of babies would share one birthday and
            # exhaust its 500 citizen-id sequence numbers.
            cap = max(0, max_age) * 365 + (rng.randint(30, 364) if spread else 200)
            return min(years(age, age), cap)

        kinds = ("elderly", "left_behind", "young", "three_gen", "middle")
        weights = (30, 16, 20, 19, 15) if rural else (17, 4, 34, 20, 25)
        kind = rng.choices(kinds, weights=weights)[0]
        members: list[tuple[str, str, int, bool]] = []
        if kind == "elderly":
            head = years(60, 88)
            members += [("本人", "M", head, True), ("配偶", "F", head + years(-5, 1) + 365, False)]
            if rng.random() < 0.2:
                members.append(("子", "M", years(28, min(45, head // 365 - 22)), True))
        elif kind == "left_behind":
            head = years(56, 78)
            members += [("本人", "M", head, True)]
            if rng.random() < 0.7:
                members.append(("配偶", "F", head + years(-5, 1) + 365, False))
            for _ in range(rng.randint(1, 4 - len(members))):
                sex = rng.choice("MF")
                members.append(("孙子" if sex == "M" else "孙女", sex, kid(14), True))
        elif kind == "young":
            head = years(24, 42)
            wife = max(years(21, 21), head + years(-4, 1) + 365)
            members += [("本人", "M", head, True), ("配偶", "F", wife, False)]
            if rng.random() < 0.88:
                for _ in range(1 if rng.random() < 0.6 else 2):
                    sex = rng.choice("MF")
                    members.append(("子" if sex == "M" else "女", sex, kid(wife // 365 - 21), True))
        elif kind == "three_gen":
            son = years(27, 45)
            members.append(("本人", "M", son, True))
            members.append(("配偶", "F", son + years(-4, 1) + 365, False))
            old = son + years(24, 32)
            members.append(
                ("父亲", "M", old, True) if rng.random() < 0.5 else ("母亲", "F", old, False)
            )
            sex = rng.choice("MF")
            members.append(("子" if sex == "M" else "女", sex, kid(son // 365 - 22), True))
        else:
            head = years(40, 64)
            members += [("本人", "M", head, True), ("配偶", "F", head + years(-4, 1) + 365, False)]
            if rng.random() < 0.6:
                sex = rng.choice("MF")
                members.append(("子" if sex == "M" else "女", sex, years(18, 30), True))
        if rng.random() < 0.12 and members[0][2] > 45 * 365:
            # A widow heads the household: her husband has died.
            relation, _, age, _ = members[0]
            if len(members) > 2 and members[1][0] == "配偶":
                members.pop(1)
                members[0] = (relation, "F", age, False)
        return members

    def citizen_id(self, region: str, born: date, sex: str) -> str:
        parity = 1 if sex == "M" else 0
        for _ in range(50):
            number = cid.make(region, born, self.rng.randrange(0, 500) * 2 + parity)
            if number not in self._used_ids:
                self._used_ids.add(number)
                return number
        # A crowded birthday: take the first free sequence number rather than draw forever.
        for sequence in range(parity, 1000, 2):
            number = cid.make(region, born, sequence)
            if number not in self._used_ids:
                self._used_ids.add(number)
                return number
        raise DemoError(f"{region} 地区 {born.isoformat()} 出生的居民过多，身份证号顺序码已用尽")

    def stored_tags(self, age: int) -> set[str]:
        """Chronic disease rising with age (hypertension ~25% and diabetes ~10% of the 35+)."""
        rng, tags = self.rng, set()
        htn = (0.01, 0.10, 0.20, 0.30, 0.40, 0.46)
        dm = (0.002, 0.04, 0.075, 0.12, 0.15, 0.16)
        band = bisect.bisect_right((35, 45, 55, 65, 75), age)
        if rng.random() < htn[band]:
            tags.add("hypertension")
        if rng.random() < dm[band]:
            tags.add("diabetes")
        if 18 <= age <= 70 and rng.random() < 0.005:
            tags.add("mental_severe")
        if age >= 15 and rng.random() < 0.0015:
            tags.add("tuberculosis")
        if rng.random() < (0.03 if age < 60 else 0.08):
            tags.add("disabled")
        return tags

    def build_homes(self, team: Team) -> None:
        rng = self.rng
        for _ in range(rng.randint(*self.spec.households)):
            cell = rng.choice(team.leaves)
            if cell.rural:
                address = (
                    f"{cell.address}{rng.randint(1, cell.group_count)}组{rng.randint(1, 120)}号"
                )
            else:
                address = f"{cell.address}{rng.randint(1, 4)}单元{rng.randint(1, 18)}{rng.randint(1, 4):02d}室"
            home = Home(
                self.next_id("household"), team, cell, address, rng.choice(team.responsible_ids), []
            )
            surname = self.surname()
            poverty = rng.random() < (0.07 if team.rural else 0.012)
            members = self.compose(team.rural)
            special = len(members) == 2 and members[0][2] > 50 * 365 and rng.random() < 0.03
            for relation, sex, age_days, family in members:
                born = self.anchor - timedelta(days=age_days)
                age = cid.age_on(born, self.anchor)
                name = self.person_name(sex, born.year, surname if family else None)
                tags = self.stored_tags(age)
                if poverty:
                    tags.add("poverty")
                if special:
                    tags.add("special_family")
                has_phone = age >= 16 and (age < 75 or rng.random() < 0.4)
                person = Person(
                    self.next_id("resident"),
                    name,
                    sex,
                    born,
                    relation,
                    tags,
                    self.phone() if has_phone else None,
                )
                person.controlled_bp = rng.random() < team.traits.control
                person.controlled_glucose = rng.random() < team.traits.control - 0.08
                if "tuberculosis" in tags:
                    person.tb_start = self.anchor - timedelta(days=rng.randint(20, 200))
                home.people.append(person)
            self.add_pregnancies(home)
            team.homes.append(home)

    def add_pregnancies(self, home: Home) -> None:
        rng = self.rng
        mothers = [
            p for p in home.people if p.sex == "F" and 20 <= cid.age_on(p.born, self.anchor) <= 40
        ]
        if not mothers:
            return
        mother = mothers[0]
        infants = [p for p in home.people if (self.anchor - p.born).days < 365]
        if infants:
            delivery = infants[0].born
            mother.pregnancy = (delivery - timedelta(days=280 + rng.randint(-10, 7)), delivery)
        else:
            age = cid.age_on(mother.born, self.anchor)
            chance = (
                (0.3 if len(home.people) == 2 else 0.06) if age <= 34 else 0.03 if age <= 38 else 0
            )
            if rng.random() < chance:
                self.make_pregnant(mother, rng.randint(30, 265))
        self.set_maternal(mother)

    def make_pregnant(self, person: Person, days_pregnant: int) -> None:
        person.pregnancy = (self.anchor - timedelta(days=days_pregnant), None)
        self.set_maternal(person)

    def set_maternal(self, person: Person) -> None:
        if person.pregnancy and self.maternal_on(person, self.anchor):
            person.tags.add("maternal")

    def ensure_key_populations(
        self, teams: list[Team] | None = None, institutions: list[Place] | None = None
    ) -> None:
        """Every team gets a hypertensive household that signs early, a pregnancy and a
        severe mental illness patient, and every institution a TB patient, so that each
        indicator has data behind it at every level even at the small scale."""
        rng = self.rng
        for team in self.teams if teams is None else teams:
            people = [p for h in team.homes for p in h.people]
            adults = [p for p in people if cid.age_on(p.born, self.anchor) >= 35]
            if not any("hypertension" in p.tags for p in people):
                max(adults or people, key=lambda p: (self.anchor - p.born).days).tags.add(
                    "hypertension"
                )
            for home in team.homes:
                if any("hypertension" in p.tags for p in home.people):
                    home.must_sign = True
                    break
            if not any(p.pregnancy for p in people):
                women = [
                    p
                    for p in people
                    if p.sex == "F" and 22 <= cid.age_on(p.born, self.anchor) <= 38
                ]
                if women:
                    self.make_pregnant(rng.choice(women), rng.randint(100, 220))
            if not any("mental_severe" in p.tags for p in people):
                candidates = [
                    p
                    for p in people
                    if 20 <= cid.age_on(p.born, self.anchor) <= 60 and "maternal" not in p.tags
                ]
                if candidates:
                    rng.choice(candidates).tags.add("mental_severe")
        for institution in self.institutions if institutions is None else institutions:
            of_institution = [t for t in self.teams if t.institution is institution]
            people = [p for t in of_institution for h in t.homes for p in h.people]
            adults = [p for p in people if 18 <= cid.age_on(p.born, self.anchor) <= 75]
            if adults and not any("tuberculosis" in p.tags for p in people):
                person = rng.choice(adults)
                person.tags.add("tuberculosis")
                person.tb_start = self.anchor - timedelta(days=rng.randint(30, 150))

    def write_homes(self, teams: list[Team] | None = None) -> None:
        """The drawn households become rows: household, its residents and their pregnancies."""
        for team in self.teams if teams is None else teams:
            for home in team.homes:
                # Registered before the earliest contract (see ``stamp``).
                created = self.stamp + timedelta(
                    days=self.rng.randint(0, 200), hours=self.rng.randint(0, 8)
                )
                scope = {
                    "county_id": team.county_id,
                    "institution_id": team.institution.id,
                    "team_id": team.id,
                }
                self.add("household", self.household_row(home, created, scope))
                for person in home.people:
                    self.add("resident", self.resident_row(home, person, created, scope))
                    if person.pregnancy:
                        lmp, delivery = person.pregnancy
                        self.add(
                            "pregnancy",
                            {
                                "id": self.next_id("pregnancy"),
                                "resident_id": person.id,
                                "county_id": team.county_id,
                                "lmp_date": lmp,
                                "delivery_date": delivery,
                            },
                        )

    def household_row(self, home: Home, created: datetime, scope: dict[str, int]) -> Row:
        phone = next((p.phone for p in home.people if p.phone), None)
        return {
            "id": home.id,
            "code": f"{home.team.code}-H{len(self.rows['household']) + 1:05d}",
            "grid_cell_id": home.cell.id,
            "station_id": home.cell.station_id,
            "address": home.address,
            "phone": phone,
            "responsible_doctor_id": home.doctor_id,
            "created_at": created,
            "updated_at": created,
            **scope,
        }

    def resident_row(
        self, home: Home, person: Person, created: datetime, scope: dict[str, int]
    ) -> Row:
        """One resident, with a citizen id unique in the county and the stored tags as flags."""
        number = self.citizen_id(home.team.county.region, person.born, person.sex)
        row: Row = {
            "id": person.id,
            "household_id": home.id,
            "name": person.name,
            "citizen_id": number,
            "id_tail": number[-6:],
            "sex": person.sex,
            "birth_date": person.born,
            "phone": person.phone,
            "relation": person.relation,
            "is_head": person.relation == "本人",
            "status": "active",
            "tb_treatment_start": person.tb_start,
            "created_at": created,
            "updated_at": created,
            **scope,
        }
        for tag in STORED_TAGS:
            row[f"tag_{tag}"] = tag in person.tags
        return row
